// Package kubernetes holds the Kubernetes manifests of Pocketbus (the YAML
// files beside this one) and, in its test, their checks: every document
// decodes strictly into the k8s.io/api types, and the deployment invariants
// hold (probes, resources, security contexts, references, JetStream sizes).
// Nothing imports this package; the Kubernetes modules are test-only
// dependencies and never reach the pocketbus binary.
package kubernetes
