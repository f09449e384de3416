import { defineConfig } from 'vite'
import { svelte } from '@sveltejs/vite-plugin-svelte'

export default defineConfig({
  base: '/',
  plugins: [svelte()],
  resolve: {
    // @pocketbus/client is linked from ../sdk/js: its imports must resolve to
    // this app's copies, or the bundle would carry two NATS clients.
    dedupe: ['pocketbase', '@nats-io/nats-core', '@nats-io/jetstream', '@nats-io/kv', '@nats-io/obj'],
  },
  build: {
    outDir: 'dist',
    emptyOutDir: true,
    target: 'es2022',
    chunkSizeWarningLimit: 800,
  },
  server: {
    proxy: {
      '/api': { target: 'http://127.0.0.1:8090', changeOrigin: true },
      '/_': { target: 'http://127.0.0.1:8090', changeOrigin: true },
      '/nats': { target: 'ws://127.0.0.1:8090', ws: true },
    },
  },
  test: {
    include: ['tests/**/*.test.js'],
    environment: 'node',
  },
})
