import PocketBase from 'pocketbase'

export const pb = new PocketBase(window.location.origin)
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

/** JSON call to a custom route with the auth header attached. */
export function api(path, { method = 'GET', body } = {}) {
  return pb.send(`/api/pocketbus${path}`, {
    method,
    body: body === undefined ? undefined : JSON.stringify(body),
    headers: body === undefined ? {} : { 'Content-Type': 'application/json' },
  })
}

export const info = $state({ version: '', nats: {}, operator: '', loaded: false, error: '' })

export async function loadInfo() {
  try {
    const r = await api('/info')
    Object.assign(info, r, { loaded: true, error: '' })
  } catch (e) {
    info.error = e?.message || 'unavailable'
    info.loaded = true
  }
}
