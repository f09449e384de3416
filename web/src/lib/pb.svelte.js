import { Pocketbus } from '@pocketbus/client'
import { isNetworkError } from './status.js'
import { suspectOffline, noteAnswer } from './online.svelte.js'

// One client for the whole app: PocketBase (pbus.pb) for the REST API and
// the SDK's route helpers and NATS connections (lib/nats.svelte.js).
export const pbus = new Pocketbus(window.location.origin)
export const pb = pbus.pb
pb.autoCancellation(false)

// Every REST call (collections, auth, the /api/pocketbus routes) tells the
// reachability monitor whether the server answered (lib/online.svelte.js).
const send = pb.send.bind(pb)
pb.send = async (path, options) => {
  try {
    const r = await send(path, options)
    noteAnswer()
    return r
  } catch (e) {
    if (isNetworkError(e)) suspectOffline()
    else if (e?.status > 0) noteAnswer()
    throw e
  }
}

export const auth = $state({ user: pb.authStore.isValid ? pb.authStore.record : null })

pb.authStore.onChange((_token, record) => {
  auth.user = pb.authStore.isValid ? record : null
})

/** Superusers may use the admin dashboard (/_/); people signed in to the app are users. */
export const isSuperuser = () => pb.authStore.isSuperuser

/**
 * Refreshes the signed-in record and token. Unlike the SDK's authRefresh it
 * saves only a complete answer: a response whose body was cut off (the tab
 * navigating away mid-request) reads as {} in the SDK, which would then
 * save an empty token and sign the person out of every tab.
 */
export async function renewAuth() {
  const r = await pb.send('/api/collections/users/auth-refresh', { method: 'POST', requestKey: null })
  if (r?.token && r?.record?.id) pb.authStore.save(r.token, r.record)
  return r
}

export async function refreshAuth() {
  if (!pb.authStore.isValid) return
  try {
    await renewAuth()
  } catch (e) {
    if (e?.status === 401 || e?.status === 403 || e?.status === 404) pb.authStore.clear()
  }
}

export const info = $state({ version: '', nats: {}, operator: '', mailer: null, loaded: false, error: '' })

export async function loadInfo() {
  try {
    const r = await pbus.info({ refresh: true })
    Object.assign(info, r, { loaded: true, error: '' })
  } catch (e) {
    info.error = e?.message || 'unavailable'
    info.loaded = true
  }
}
