import { describe, it, expect } from 'vitest'
import { isNetworkError, probeDelay, shouldRetry, retryDelay, queryView, natsStatusText, plainNatsError, isLimitRefusal } from '../src/lib/status.js'

describe('reachability probes and retries', () => {
  it('tells a request that never reached the server from an answer', () => {
    expect(isNetworkError({ status: 0 })).toBe(true)
    expect(isNetworkError({ status: 0, isAbort: true })).toBe(false)
    expect(isNetworkError({ status: 404 })).toBe(false)
    expect(isNetworkError(null)).toBe(false)
  })
  it('probes with backoff: a 15 s outage costs 4 probes', () => {
    expect([0, 1, 2, 3, 4, 10].map(probeDelay)).toEqual([1000, 2000, 4000, 5000, 5000, 5000])
    let t = 0
    let n = 0
    while (t + probeDelay(n) <= 15_000) t += probeDelay(n++)
    expect(n).toBe(4)
  })
  it('retries network errors (paused while offline), never 4xx, others twice', () => {
    expect(shouldRetry(0, { status: 0 })).toBe(true)
    expect(shouldRetry(7, { status: 0 })).toBe(true)
    expect(shouldRetry(8, { status: 0 })).toBe(false)
    expect(shouldRetry(0, { status: 404 })).toBe(false)
    expect(shouldRetry(0, { status: 403 })).toBe(false)
    expect(shouldRetry(1, { status: 500 })).toBe(true)
    expect(shouldRetry(2, { status: 500 })).toBe(false)
    expect(shouldRetry(0, new Error('NATS timeout'))).toBe(true)
    expect([0, 1, 2, 3, 4, 5].map(retryDelay)).toEqual([1000, 2000, 4000, 8000, 15000, 15000])
  })
})

describe('queryView: a failed load is never an empty list', () => {
  const q = (o) => ({ data: undefined, isError: false, status: 'pending', fetchStatus: 'fetching', error: null, ...o })
  it('shows data, also when a refresh failed afterwards', () => {
    expect(queryView(q({ data: [1], status: 'success' }))).toBe('data')
    expect(queryView(q({ data: [1], status: 'error', isError: true, error: { status: 0 } }))).toBe('data')
  })
  it('is empty only after a load that succeeded', () => {
    expect(queryView(q({ data: [], status: 'success' }))).toBe('empty')
    expect(queryView(q({ data: { items: [] }, status: 'success' }))).toBe('empty')
    expect(queryView(q({ data: 0, status: 'success' }))).toBe('data')
    expect(queryView(q({ data: [], status: 'success' }), () => false)).toBe('data')
  })
  it('says error, not found, waiting or loading when there is nothing to show', () => {
    expect(queryView(q({ status: 'error', isError: true, error: { status: 0 } }))).toBe('error')
    expect(queryView(q({ status: 'error', isError: true, error: { status: 404 } }))).toBe('missing')
    expect(queryView(q({ fetchStatus: 'paused' }))).toBe('waiting')
    expect(queryView(q({}))).toBe('loading')
  })
})

describe('the footer\'s NATS status is true', () => {
  it('is "not in use" off the data pages', () => {
    expect(natsStatusText({ used: false, status: 'connected' }).text).toBe('not in use on this page')
  })
  it('says "project disabled", never the raw limit refusal, for a disabled project', () => {
    const s = natsStatusText({ used: true, status: 'reconnecting', error: 'maximum account active connections exceeded', disabled: true })
    expect(s).toEqual({ text: 'project disabled', tone: 'bad' })
  })
  it('names an outage, a limit, an ended connection', () => {
    expect(natsStatusText({ used: true, status: 'offline', offline: true }).text).toBe('offline — waiting for the server')
    expect(natsStatusText({ used: true, status: 'connected' })).toEqual({ text: 'connected', tone: 'ok' })
    expect(natsStatusText({ used: true, status: 'reconnecting', error: 'maximum account active connections exceeded' }).text).toBe('refused — the project is disabled or at its connection limit; retrying')
    expect(natsStatusText({ used: true, status: 'reconnecting' }).text).toBe('reconnecting…')
    expect(natsStatusText({ used: true, status: 'error' }).text).toBe('cannot connect — retrying')
    expect(natsStatusText({ used: true, status: 'closed', error: 'User Authentication Revoked' }).text).toBe('closed — access was revoked')
    expect(natsStatusText({ used: true, status: 'connecting' }).tone).toBe('wait')
  })
  it('puts NATS errors in plain words', () => {
    expect(plainNatsError('Authorization Violation')).toBe('access refused')
    expect(plainNatsError('something else')).toBe('something else')
    expect(isLimitRefusal('nats: maximum account active connections exceeded')).toBe(true)
    expect(isLimitRefusal(undefined)).toBe(false)
  })
})
