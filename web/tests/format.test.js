import { describe, it, expect } from 'vitest'
import { formatBytes, formatCount, usageFraction, timeAgo, toMs, formatDate } from '../src/lib/format.js'

describe('formatBytes', () => {
  it('formats small values in bytes', () => {
    expect(formatBytes(0)).toBe('0 B')
    expect(formatBytes(1)).toBe('1 B')
    expect(formatBytes(1023)).toBe('1023 B')
  })
  it('uses binary units and trims zeros', () => {
    expect(formatBytes(1024)).toBe('1 KiB')
    expect(formatBytes(1536)).toBe('1.5 KiB')
    expect(formatBytes(10 * 1024 * 1024)).toBe('10 MiB')
    expect(formatBytes(1.25 * 1024 ** 3)).toBe('1.25 GiB')
    expect(formatBytes(150 * 1024 ** 2)).toBe('150 MiB')
    expect(formatBytes(1024 ** 5 * 3)).toBe('3 PiB')
  })
  it('treats negative limits as unlimited and bad input as a dash', () => {
    expect(formatBytes(-1)).toBe('unlimited')
    expect(formatBytes(undefined)).toBe('—')
    expect(formatBytes('x')).toBe('—')
    expect(formatBytes('2048')).toBe('2 KiB')
  })
})

describe('formatCount', () => {
  it('abbreviates', () => {
    expect(formatCount(999)).toBe('999')
    expect(formatCount(1500)).toBe('1.5K')
    expect(formatCount(25_000)).toBe('25K')
    expect(formatCount(1_200_000)).toBe('1.2M')
    expect(formatCount(3e9)).toBe('3B')
    expect(formatCount(-1)).toBe('unlimited')
  })
})

describe('usageFraction', () => {
  it('clamps and handles unlimited', () => {
    expect(usageFraction(50, 100)).toBe(0.5)
    expect(usageFraction(500, 100)).toBe(1)
    expect(usageFraction(5, -1)).toBeNull()
    expect(usageFraction(0, 0)).toBe(0)
    expect(usageFraction(1, 0)).toBe(1)
  })
})

describe('timeAgo', () => {
  const now = Date.parse('2026-11-22T12:00:00Z')
  it('reads PocketBase dates', () => {
    expect(toMs('2026-11-22 11:00:00.000Z')).toBe(now - 3600_000)
    expect(timeAgo('2026-11-22 11:59:50.000Z', now)).toBe('just now')
    expect(timeAgo('2026-11-22 11:55:00.000Z', now)).toBe('5 minutes ago')
    expect(timeAgo('2026-11-22 09:00:00.000Z', now)).toBe('3 hours ago')
    expect(timeAgo('2026-11-19 12:00:00.000Z', now)).toBe('3 days ago')
    expect(timeAgo(now + 7200_000, now)).toBe('in 2 hours')
    expect(timeAgo('2026-11-21 11:00:00.000Z', now)).toBe('yesterday')
    expect(timeAgo(now - 59 * 60_000, now)).toBe('59 minutes ago')
    expect(timeAgo(now - 59.9 * 60_000, now)).toBe('1 hour ago')
    expect(timeAgo(now + 7 * 86400_000, now)).toBe('in 7 days')
    expect(timeAgo('', now)).toBe('')
  })
})

describe('formatDate', () => {
  it('always names the time zone', () => {
    const d = formatDate('2026-11-22 10:00:00.000Z')
    expect(d).toMatch(/2026/)
    expect(d).toMatch(/UTC|GMT|[A-Z]{2,5}$|[+-]\d/)
    expect(formatDate('')).toBe('—')
  })
})
