// document.title for each page: "Page · Place · Pocketbus".
export function pageTitle(...parts) {
  return [...parts.filter(Boolean), 'Pocketbus'].join(' · ')
}

export function setTitle(...parts) {
  document.title = pageTitle(...parts)
}
