// Package web embeds the built web app (web/dist), as PocketBase embeds its
// own dashboard, so `go run` needs no Node.
package web

import (
	"embed"
	"io/fs"
)

//go:embed all:dist
var distDir embed.FS

// DistFS is the built app, rooted at dist/.
var DistFS, _ = fs.Sub(distDir, "dist")
