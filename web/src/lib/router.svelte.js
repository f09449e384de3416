// A tiny history router: route table matching plus link interception.

export const route = $state({ path: window.location.pathname, search: window.location.search })

export function navigate(to, { replace = false } = {}) {
  const url = new URL(to, window.location.origin)
  if (url.pathname + url.search === window.location.pathname + window.location.search) return
  if (replace) history.replaceState({}, '', url.pathname + url.search)
  else history.pushState({}, '', url.pathname + url.search)
  route.path = url.pathname
  route.search = url.search
  window.scrollTo(0, 0)
}

window.addEventListener('popstate', () => {
  route.path = window.location.pathname
  route.search = window.location.search
})

// Intercept same-origin <a href="/..."> clicks (not /api or /_/ or downloads).
document.addEventListener('click', (e) => {
  if (e.defaultPrevented || e.button !== 0 || e.metaKey || e.ctrlKey || e.shiftKey || e.altKey) return
  const a = e.target.closest?.('a[href]')
  if (!a || a.target || a.hasAttribute('download') || a.dataset.external !== undefined) return
  const url = new URL(a.href, window.location.href)
  if (url.origin !== window.location.origin) return
  if (url.pathname.startsWith('/api/') || url.pathname.startsWith('/_/') || url.pathname === '/_') return
  e.preventDefault()
  navigate(url.pathname + url.search)
})

/** match('/g/:gid/p/:pid', '/g/1/p/2') → {gid:'1', pid:'2'} or null */
export function match(pattern, path) {
  const p = pattern.split('/').filter(Boolean)
  const s = path.split('/').filter(Boolean)
  if (p.length !== s.length) return null
  const params = {}
  for (let i = 0; i < p.length; i++) {
    if (p[i].startsWith(':')) params[p[i].slice(1)] = decodeURIComponent(s[i])
    else if (p[i] !== s[i]) return null
  }
  return params
}

export function queryParam(name) {
  return new URLSearchParams(route.search).get(name)
}
