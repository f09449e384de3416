import { Pocketbus } from '@pocketbus/client'

// One client for the whole app: PocketBase (pbus.pb) for the REST API and
// the SDK's route helpers and NATS connections (lib/nats.svelte.js).
export const pbus = new Pocketbus(window.location.origin)
export const pb = pbus.pb
pb.autoCancellation(false)

export const auth = $state({ user: pb.authStore.isValid ? pb.authStore.record : null })

pb.authStore.onChange((_token, record) => {
  auth.user = pb.authStore.isValid ? record : null
})

export async function refreshAuth() {
  if (!pb.authStore.isValid) return
  try {
    await pb.collection('users').authRefresh()
  } catch (e) {
    if (e?.status === 401 || e?.status === 403 || e?.status === 404) pb.authStore.clear()
  }
}

export const info = $state({ version: '', nats: {}, operator: '', loaded: false, error: '' })

export async function loadInfo() {
  try {
    const r = await pbus.info({ refresh: true })
    Object.assign(info, r, { loaded: true, error: '' })
  } catch (e) {
    info.error = e?.message || 'unavailable'
    info.loaded = true
  }
}
