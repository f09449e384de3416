import { mount } from 'svelte'
import './app.css'
import App from './App.svelte'

window.__pbStart = performance.now()
const app = mount(App, { target: document.getElementById('app') })
export default app
