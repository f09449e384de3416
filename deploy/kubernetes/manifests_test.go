package kubernetes

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"io"
	"net/url"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	networkingv1 "k8s.io/api/networking/v1"
	policyv1 "k8s.io/api/policy/v1"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/intstr"
	utilyaml "k8s.io/apimachinery/pkg/util/yaml"
	kjson "sigs.k8s.io/json"
	"sigs.k8s.io/yaml"
)

// object is one decoded manifest document.
type object struct {
	file string
	kind string
	name string
	obj  any
}

// kinds maps apiVersion/kind to the type a document must decode into. A
// document of any other kind fails: add it here deliberately.
var kinds = map[string]func() any{
	"v1/ConfigMap":                  func() any { return &corev1.ConfigMap{} },
	"v1/Secret":                     func() any { return &corev1.Secret{} },
	"v1/Service":                    func() any { return &corev1.Service{} },
	"apps/v1/StatefulSet":           func() any { return &appsv1.StatefulSet{} },
	"networking.k8s.io/v1/Ingress":  func() any { return &networkingv1.Ingress{} },
	"policy/v1/PodDisruptionBudget": func() any { return &policyv1.PodDisruptionBudget{} },
}

// decodeStrict decodes one YAML document the way the API server's strict
// field validation does: duplicate keys, unknown fields and fields whose
// case differs from the API's (encoding/json would accept "Image" for
// "image") are errors.
func decodeStrict(doc []byte) (any, error) {
	j, err := yaml.YAMLToJSONStrict(doc)
	if err != nil {
		return nil, err
	}
	var tm metav1.TypeMeta
	if err := yaml.Unmarshal(doc, &tm); err != nil {
		return nil, err
	}
	mk, ok := kinds[tm.APIVersion+"/"+tm.Kind]
	if !ok {
		return nil, fmt.Errorf("apiVersion %q kind %q: not a kind these manifests use", tm.APIVersion, tm.Kind)
	}
	obj := mk()
	strictErrs, err := kjson.UnmarshalStrict(j, obj)
	if err != nil {
		return nil, err
	}
	if len(strictErrs) > 0 {
		return nil, errors.Join(strictErrs...)
	}
	return obj, nil
}

type manifests struct {
	objects []object
	text    map[string]string // file -> contents (comments hold the steps)
}

func load(t *testing.T) *manifests {
	t.Helper()
	files, err := filepath.Glob("*.yaml")
	if err != nil {
		t.Fatal(err)
	}
	if len(files) == 0 {
		t.Fatal("no manifests")
	}
	m := &manifests{text: map[string]string{}}
	for _, f := range files {
		raw, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		m.text[f] = string(raw)
		r := utilyaml.NewYAMLReader(bufio.NewReader(bytes.NewReader(raw)))
		for i := 0; ; i++ {
			doc, err := r.Read()
			if err == io.EOF {
				break
			}
			if err != nil {
				t.Fatalf("%s: document %d: %v", f, i, err)
			}
			if onlyComments(doc) {
				continue
			}
			obj, err := decodeStrict(doc)
			if err != nil {
				t.Errorf("%s: document %d: %v", f, i, err)
				continue
			}
			meta := obj.(metav1.Object)
			kind := fmt.Sprintf("%T", obj)
			kind = kind[strings.LastIndex(kind, ".")+1:]
			if meta.GetName() == "" {
				t.Errorf("%s: %s without a name", f, kind)
			}
			if meta.GetNamespace() != "" {
				t.Errorf("%s: %s/%s names namespace %q; the manifests are applied with -n", f, kind, meta.GetName(), meta.GetNamespace())
			}
			for _, o := range m.objects {
				if o.kind == kind && o.name == meta.GetName() {
					t.Errorf("%s/%s is defined in %s and %s", kind, o.name, o.file, f)
				}
			}
			m.objects = append(m.objects, object{file: f, kind: kind, name: meta.GetName(), obj: obj})
		}
	}
	if t.Failed() {
		t.FailNow()
	}
	return m
}

func onlyComments(doc []byte) bool {
	for _, l := range strings.Split(string(doc), "\n") {
		l = strings.TrimSpace(l)
		if l != "" && !strings.HasPrefix(l, "#") {
			return false
		}
	}
	return true
}

func find[T any](m *manifests, kind string) []T {
	var out []T
	for _, o := range m.objects {
		if o.kind == kind {
			out = append(out, o.obj.(T))
		}
	}
	return out
}

func (m *manifests) get(kind, name string) (object, bool) {
	for _, o := range m.objects {
		if o.kind == kind && o.name == name {
			return o, true
		}
	}
	return object{}, false
}

func (m *manifests) fileOf(kind, name string) string {
	o, _ := m.get(kind, name)
	return o.file
}

// createdOutside reports whether some manifest's comments tell the reader to
// make this ConfigMap or Secret with kubectl (a reference the manifests
// cannot hold themselves, e.g. configuration printed by Pocketbus).
func (m *manifests) createdOutside(kind, name string) bool {
	verb := map[string]string{"ConfigMap": "kubectl create configmap ", "Secret": "kubectl create secret generic "}[kind]
	for _, text := range m.text {
		if strings.Contains(text, verb+name+" ") || strings.Contains(text, verb+name+"\n") {
			return true
		}
	}
	return false
}

// hasKey reports whether the ConfigMap or Secret in the manifests holds key;
// ok is false when the object is not in the manifests.
func (m *manifests) hasKey(kind, name, key string) (has, ok bool) {
	o, ok := m.get(kind, name)
	if !ok {
		return false, false
	}
	switch v := o.obj.(type) {
	case *corev1.ConfigMap:
		_, a := v.Data[key]
		_, b := v.BinaryData[key]
		return a || b, true
	case *corev1.Secret:
		_, a := v.Data[key]
		_, b := v.StringData[key]
		return a || b, true
	}
	return false, true
}

// checkRef fails unless kind/name exists in the manifests (with key, when
// key is given) or a manifest says how to create it.
func (m *manifests) checkRef(t *testing.T, where, kind, name, key string, optional *bool) {
	t.Helper()
	if optional != nil && *optional {
		t.Errorf("%s: reference to %s %s is optional; a missing one must stop the pod, not be skipped", where, kind, name)
	}
	has, ok := m.hasKey(kind, name, key)
	switch {
	case !ok && m.createdOutside(kind, name):
	case !ok:
		t.Errorf("%s: %s %q is neither in the manifests nor created by a documented kubectl command", where, kind, name)
	case key != "" && !has:
		t.Errorf("%s: %s %q has no key %q", where, kind, name, key)
	}
}

// size reads Pocketbus's and nats-server's sizes ("512M", "1.5G", "16GiB",
// "45GB", bytes). K, M, G and T are taken as binary units whatever their
// spelling: the larger of the readings the two parsers may give, so the
// comparisons with the Kubernetes limits hold under either.
func size(s string) (int64, error) {
	re := regexp.MustCompile(`^(?i)\s*([0-9]+(?:\.[0-9]+)?)\s*([kmgt]?)(i?)(b?)\s*$`)
	g := re.FindStringSubmatch(s)
	if g == nil {
		return 0, fmt.Errorf("%q is not a size", s)
	}
	f, err := strconv.ParseFloat(g[1], 64)
	if err != nil {
		return 0, err
	}
	mult := map[string]float64{"": 1, "k": 1 << 10, "m": 1 << 20, "g": 1 << 30, "t": 1 << 40}[strings.ToLower(g[2])]
	return int64(f * mult), nil
}

// flag is the value of --name=value or --name value in args.
func flag(args []string, name string) (string, bool) {
	for i, a := range args {
		if v, ok := strings.CutPrefix(a, "--"+name+"="); ok {
			return v, true
		}
		if a == "--"+name && i+1 < len(args) {
			return args[i+1], true
		}
	}
	return "", false
}

func isPocketbus(c corev1.Container) bool {
	return strings.Contains(c.Image, "pocketbus") && len(c.Args) > 0 && c.Args[0] == "serve"
}

// containerPort resolves a probe's or Service's port (name or number) on c.
func containerPort(c corev1.Container, p intstr.IntOrString) (corev1.ContainerPort, bool) {
	for _, cp := range c.Ports {
		if (p.Type == intstr.String && cp.Name == p.StrVal) || (p.Type == intstr.Int && cp.ContainerPort == p.IntVal) {
			return cp, true
		}
	}
	return corev1.ContainerPort{}, false
}

func portOf(hostport string) (int32, error) {
	i := strings.LastIndex(hostport, ":")
	if i < 0 {
		return 0, fmt.Errorf("%q has no port", hostport)
	}
	n, err := strconv.Atoi(hostport[i+1:])
	return int32(n), err
}

func matches(selector, labels map[string]string) bool {
	if len(selector) == 0 {
		return false
	}
	for k, v := range selector {
		if labels[k] != v {
			return false
		}
	}
	return true
}

func TestManifestsDecodeStrictly(t *testing.T) {
	m := load(t)
	for _, want := range []struct{ kind, name string }{
		{"Secret", "pocketbus"}, {"StatefulSet", "pocketbus"}, {"Service", "pocketbus"}, {"Ingress", "pocketbus"},
		{"StatefulSet", "nats"}, {"ConfigMap", "nats-config"},
	} {
		if _, ok := m.get(want.kind, want.name); !ok {
			t.Errorf("no %s %s", want.kind, want.name)
		}
	}
}

// TestStrictDecodingCatchesMistakes shows that the decoding above refuses
// what a lenient YAML load would let through.
func TestStrictDecodingCatchesMistakes(t *testing.T) {
	base := "apiVersion: v1\nkind: Service\nmetadata: {name: x}\nspec:\n  selector: {a: b}\n"
	for name, doc := range map[string]string{
		"unknown field":    base + "  ports: [{port: 80, targetPrt: 80}]\n",
		"field case":       base + "  Ports: [{port: 80}]\n",
		"duplicate key":    base + "  selector: {c: d}\n",
		"wrong type":       base + "  ports: [{port: eighty}]\n",
		"misplaced field":  base + "  containers: []\n",
		"unknown kind":     "apiVersion: v1\nkind: Servic\nmetadata: {name: x}\n",
		"wrong apiVersion": "apiVersion: apps/v1\nkind: Service\nmetadata: {name: x}\n",
	} {
		if _, err := decodeStrict([]byte(doc)); err == nil {
			t.Errorf("%s: decoded without error", name)
		}
	}
	if _, err := decodeStrict([]byte(base + "  ports: [{port: 80}]\n")); err != nil {
		t.Errorf("valid Service: %v", err)
	}
}

func TestWorkloads(t *testing.T) {
	m := load(t)
	sets := find[*appsv1.StatefulSet](m, "StatefulSet")
	if len(sets) == 0 {
		t.Fatal("no StatefulSet")
	}
	pocketbusSeen := false
	for _, ss := range sets {
		where := m.fileOf("StatefulSet", ss.Name) + ": StatefulSet " + ss.Name
		pod := ss.Spec.Template.Spec
		labels := ss.Spec.Template.Labels
		if ss.Spec.Selector == nil || !matches(ss.Spec.Selector.MatchLabels, labels) {
			t.Errorf("%s: selector does not match the pod template's labels", where)
		}

		// A headless governing Service that selects these pods.
		if o, ok := m.get("Service", ss.Spec.ServiceName); !ok {
			t.Errorf("%s: serviceName %q: no such Service", where, ss.Spec.ServiceName)
		} else if svc := o.obj.(*corev1.Service); svc.Spec.ClusterIP != corev1.ClusterIPNone {
			t.Errorf("%s: governing Service %s is not headless (clusterIP: None)", where, svc.Name)
		} else if !matches(svc.Spec.Selector, labels) {
			t.Errorf("%s: governing Service %s does not select its pods", where, svc.Name)
		}

		// Pod-level hardening.
		psc := pod.SecurityContext
		switch {
		case psc == nil:
			t.Errorf("%s: no pod securityContext", where)
		default:
			if psc.RunAsNonRoot == nil || !*psc.RunAsNonRoot {
				t.Errorf("%s: pod runAsNonRoot is not true", where)
			}
			if psc.RunAsUser == nil || *psc.RunAsUser == 0 {
				t.Errorf("%s: pod runAsUser unset or root", where)
			}
			if psc.FSGroup == nil {
				t.Errorf("%s: no fsGroup: the volume may not be writable by the non-root user", where)
			}
			if psc.SeccompProfile == nil || psc.SeccompProfile.Type != corev1.SeccompProfileTypeRuntimeDefault {
				t.Errorf("%s: seccompProfile is not RuntimeDefault", where)
			}
		}
		if pod.AutomountServiceAccountToken == nil || *pod.AutomountServiceAccountToken {
			t.Errorf("%s: automountServiceAccountToken is not false (nothing here calls the Kubernetes API)", where)
		}
		if pod.EnableServiceLinks == nil || *pod.EnableServiceLinks {
			t.Errorf("%s: enableServiceLinks is not false (Service variables would land in the container's environment)", where)
		}

		volumes := map[string]corev1.Volume{}
		for _, v := range pod.Volumes {
			volumes[v.Name] = v
			switch {
			case v.Secret != nil:
				m.checkRef(t, where+" volume "+v.Name, "Secret", v.Secret.SecretName, "", v.Secret.Optional)
			case v.ConfigMap != nil:
				m.checkRef(t, where+" volume "+v.Name, "ConfigMap", v.ConfigMap.Name, "", v.ConfigMap.Optional)
			}
		}
		claims := map[string]corev1.PersistentVolumeClaim{}
		for _, c := range ss.Spec.VolumeClaimTemplates {
			claims[c.Name] = c
			if _, ok := c.Spec.Resources.Requests[corev1.ResourceStorage]; !ok {
				t.Errorf("%s: volume claim %s requests no storage", where, c.Name)
			}
		}

		if len(pod.Containers) == 0 {
			t.Errorf("%s: no containers", where)
		}
		for _, c := range append(slices.Clone(pod.InitContainers), pod.Containers...) {
			cw := where + " container " + c.Name
			checkImage(t, cw, c)
			checkContainerSecurity(t, cw, c)
			checkResources(t, cw, c)
			for _, vm := range c.VolumeMounts {
				_, isVol := volumes[vm.Name]
				_, isClaim := claims[vm.Name]
				if !isVol && !isClaim {
					t.Errorf("%s: mount %s: no such volume or claim template", cw, vm.Name)
				}
				if v, ok := volumes[vm.Name]; ok && vm.SubPath != "" && v.ConfigMap != nil {
					m.checkRef(t, cw+" mount "+vm.Name, "ConfigMap", v.ConfigMap.Name, vm.SubPath, nil)
				}
			}
			for _, e := range c.Env {
				if e.ValueFrom == nil {
					continue
				}
				if r := e.ValueFrom.SecretKeyRef; r != nil {
					m.checkRef(t, cw+" env "+e.Name, "Secret", r.Name, r.Key, r.Optional)
				}
				if r := e.ValueFrom.ConfigMapKeyRef; r != nil {
					m.checkRef(t, cw+" env "+e.Name, "ConfigMap", r.Name, r.Key, r.Optional)
				}
			}
			for _, ef := range c.EnvFrom {
				if ef.SecretRef != nil {
					m.checkRef(t, cw+" envFrom", "Secret", ef.SecretRef.Name, "", ef.SecretRef.Optional)
				}
				if ef.ConfigMapRef != nil {
					m.checkRef(t, cw+" envFrom", "ConfigMap", ef.ConfigMapRef.Name, "", ef.ConfigMapRef.Optional)
				}
			}
			if isPocketbus(c) {
				pocketbusSeen = true
				if ss.Spec.Replicas == nil || *ss.Spec.Replicas != 1 {
					t.Errorf("%s: Pocketbus with its embedded JetStream runs as exactly one replica", where)
				}
				checkPocketbus(t, m, cw, ss, c, claims)
			} else {
				checkProbesPresent(t, cw, c)
			}
		}
	}
	if !pocketbusSeen {
		t.Error("no Pocketbus container (image with \"pocketbus\", args starting with serve)")
	}
}

func checkImage(t *testing.T, where string, c corev1.Container) {
	t.Helper()
	ref := c.Image
	if at := strings.Index(ref, "@"); at >= 0 {
		ref = ref[:at] // a digest pins it
	} else {
		slash := strings.LastIndex(ref, "/")
		colon := strings.LastIndex(ref, ":")
		if colon <= slash {
			t.Errorf("%s: image %q has no tag (that is :latest)", where, c.Image)
		} else if tag := ref[colon+1:]; tag == "latest" || tag == "" {
			t.Errorf("%s: image %q is not pinned", where, c.Image)
		}
	}
	if c.ImagePullPolicy == "" {
		t.Errorf("%s: no explicit imagePullPolicy", where)
	}
}

func checkContainerSecurity(t *testing.T, where string, c corev1.Container) {
	t.Helper()
	sc := c.SecurityContext
	if sc == nil {
		t.Errorf("%s: no container securityContext", where)
		return
	}
	if sc.AllowPrivilegeEscalation == nil || *sc.AllowPrivilegeEscalation {
		t.Errorf("%s: allowPrivilegeEscalation is not false", where)
	}
	if sc.Privileged != nil && *sc.Privileged {
		t.Errorf("%s: privileged", where)
	}
	if sc.RunAsNonRoot == nil || !*sc.RunAsNonRoot {
		t.Errorf("%s: runAsNonRoot is not true", where)
	}
	if sc.RunAsUser != nil && *sc.RunAsUser == 0 {
		t.Errorf("%s: runs as root", where)
	}
	if sc.ReadOnlyRootFilesystem == nil || !*sc.ReadOnlyRootFilesystem {
		t.Errorf("%s: root filesystem is writable", where)
	}
	if sc.Capabilities == nil || !slices.Contains(sc.Capabilities.Drop, "ALL") {
		t.Errorf("%s: capabilities do not drop ALL", where)
	} else if len(sc.Capabilities.Add) > 0 {
		t.Errorf("%s: adds capabilities %v", where, sc.Capabilities.Add)
	}
}

func checkResources(t *testing.T, where string, c corev1.Container) {
	t.Helper()
	r := c.Resources
	for _, name := range []corev1.ResourceName{corev1.ResourceCPU, corev1.ResourceMemory} {
		req, ok := r.Requests[name]
		if !ok {
			t.Errorf("%s: no %s request", where, name)
			continue
		}
		if lim, ok := r.Limits[name]; ok && req.Cmp(lim) > 0 {
			t.Errorf("%s: %s request %s above its limit %s", where, name, req.String(), lim.String())
		}
	}
	lim, ok := r.Limits[corev1.ResourceMemory]
	if !ok {
		t.Errorf("%s: no memory limit", where)
		return
	}
	for _, e := range c.Env {
		if e.Name == "GOMEMLIMIT" {
			q, err := resource.ParseQuantity(strings.TrimSuffix(e.Value, "B"))
			if err != nil {
				t.Errorf("%s: GOMEMLIMIT %q: %v", where, e.Value, err)
			} else if q.Cmp(lim) >= 0 {
				t.Errorf("%s: GOMEMLIMIT %s is not below the memory limit %s", where, e.Value, lim.String())
			}
		}
	}
}

func checkProbesPresent(t *testing.T, where string, c corev1.Container) {
	t.Helper()
	for name, p := range map[string]*corev1.Probe{"startup": c.StartupProbe, "readiness": c.ReadinessProbe, "liveness": c.LivenessProbe} {
		if p == nil {
			t.Errorf("%s: no %sProbe", where, name)
			continue
		}
		var port *intstr.IntOrString
		switch {
		case p.HTTPGet != nil:
			port = &p.HTTPGet.Port
		case p.TCPSocket != nil:
			port = &p.TCPSocket.Port
		default:
			continue
		}
		if _, ok := containerPort(c, *port); !ok {
			t.Errorf("%s: %sProbe port %s is not a port of the container", where, name, port.String())
		}
	}
}

// checkPocketbus: startup and readiness probes on /api/health at the --http
// port, a liveness probe of that port that does not depend on NATS, the
// encryption key from a Secret, JetStream totals within the memory limit and
// the volume (embedded NATS), the data dir on a claim, and --nats-advertise
// naming a NATS Service.
func checkPocketbus(t *testing.T, m *manifests, where string, ss *appsv1.StatefulSet, c corev1.Container, claims map[string]corev1.PersistentVolumeClaim) {
	t.Helper()
	checkProbesPresent(t, where, c)
	httpAddr, ok := flag(c.Args, "http")
	if !ok {
		t.Errorf("%s: no --http", where)
	}
	httpPort, err := portOf(httpAddr)
	if err != nil {
		t.Errorf("%s: --http: %v", where, err)
	}
	for name, p := range map[string]*corev1.Probe{"startup": c.StartupProbe, "readiness": c.ReadinessProbe} {
		if p == nil {
			continue
		}
		if p.HTTPGet == nil || p.HTTPGet.Path != "/api/health" {
			t.Errorf("%s: %sProbe is not an HTTP GET of /api/health (the one check that reports NATS)", where, name)
			continue
		}
		if cp, ok := containerPort(c, p.HTTPGet.Port); ok && cp.ContainerPort != httpPort {
			t.Errorf("%s: %sProbe port %d is not the --http port %d", where, name, cp.ContainerPort, httpPort)
		}
	}
	// Liveness is the process answering on its HTTP port, not NATS:
	// /api/health is 503 while NATS is not ready (for the whole extraction
	// of a restore, or a NATS cluster's outage), and restarting Pocketbus
	// mends neither; readiness takes it out of the Services meanwhile.
	if p := c.LivenessProbe; p != nil {
		var port *intstr.IntOrString
		switch {
		case p.HTTPGet != nil && p.HTTPGet.Path == "/api/health":
			t.Errorf("%s: livenessProbe is GET /api/health, which is 503 while NATS is not ready (a restore, a NATS outage): the kubelet would restart Pocketbus over it; check the HTTP port (tcpSocket)", where)
		case p.HTTPGet != nil:
			port = &p.HTTPGet.Port
		case p.TCPSocket != nil:
			port = &p.TCPSocket.Port
		default:
			t.Errorf("%s: livenessProbe is neither a TCP check nor an HTTP GET of the --http port", where)
		}
		if port != nil {
			if cp, ok := containerPort(c, *port); ok && cp.ContainerPort != httpPort {
				t.Errorf("%s: livenessProbe port %d is not the --http port %d", where, cp.ContainerPort, httpPort)
			}
		}
	}

	// --encryptionEnv names a variable that comes from a Secret.
	envName, ok := flag(c.Args, "encryptionEnv")
	if !ok {
		t.Errorf("%s: no --encryptionEnv: settings and operator seeds would be stored in plain text", where)
	} else {
		found := false
		for _, e := range c.Env {
			if e.Name != envName {
				continue
			}
			found = true
			if e.Value != "" || e.ValueFrom == nil || e.ValueFrom.SecretKeyRef == nil {
				t.Errorf("%s: %s is not taken from a Secret", where, envName)
				continue
			}
			// A key committed in the manifests is a placeholder that
			// Pocketbus refuses (keys are exactly 32 characters).
			ref := e.ValueFrom.SecretKeyRef
			if o, ok := m.get("Secret", ref.Name); ok {
				s := o.obj.(*corev1.Secret)
				v := s.StringData[ref.Key]
				if b, ok := s.Data[ref.Key]; ok {
					v = string(b)
				}
				if len(v) == 32 {
					t.Errorf("%s: Secret %s holds a usable 32-character key in the repository", where, ref.Name)
				}
			}
		}
		if !found {
			t.Errorf("%s: --encryptionEnv=%s but no such env variable", where, envName)
		}
	}

	// The data dir lives on a claim; JetStream totals fit the claim and the
	// memory limit.
	dir, ok := flag(c.Args, "dir")
	if !ok {
		t.Errorf("%s: no --dir", where)
	}
	var claim *corev1.PersistentVolumeClaim
	for _, vm := range c.VolumeMounts {
		if vm.MountPath == dir {
			if cl, ok := claims[vm.Name]; ok {
				claim = &cl
			}
		}
	}
	if claim == nil {
		t.Errorf("%s: --dir %s is not on a volume claim template", where, dir)
	}
	// Embedded NATS (no --nats-url), whether or not --nats-listen is given:
	// without it the server still runs, on 127.0.0.1:4222.
	if _, cluster := flag(c.Args, "nats-url"); !cluster {
		memLimit := c.Resources.Limits[corev1.ResourceMemory]
		if v, ok := flag(c.Args, "nats-max-memory"); !ok {
			t.Errorf("%s: no --nats-max-memory: JetStream sizes itself from the host, not the container", where)
		} else if n, err := size(v); err != nil {
			t.Errorf("%s: --nats-max-memory: %v", where, err)
		} else if !memLimit.IsZero() && n >= memLimit.Value() {
			t.Errorf("%s: --nats-max-memory %s is not below the memory limit %s", where, v, memLimit.String())
		}
		if v, ok := flag(c.Args, "nats-max-disk"); !ok {
			t.Errorf("%s: no --nats-max-disk: JetStream sizes itself from the host's disk, not the volume", where)
		} else if n, err := size(v); err != nil {
			t.Errorf("%s: --nats-max-disk: %v", where, err)
		} else if claim != nil {
			storage := claim.Spec.Resources.Requests[corev1.ResourceStorage]
			if n >= storage.Value() {
				t.Errorf("%s: --nats-max-disk %s is not below the volume's %s (the database and backups share it)", where, v, storage.String())
			}
		}
		checkAdvertise(t, m, where, ss, c)
	}
	if sc := c.SecurityContext; sc != nil && sc.ReadOnlyRootFilesystem != nil && *sc.ReadOnlyRootFilesystem {
		tmp := false
		for _, vm := range c.VolumeMounts {
			tmp = tmp || vm.MountPath == "/tmp"
		}
		if !tmp {
			t.Errorf("%s: read-only root filesystem without a writable /tmp (large uploads are spooled there)", where)
		}
	}
}

// checkAdvertise: every --nats-advertise URL is a public-looking host on the
// port of a LoadBalancer or NodePort Service that sends to the NATS listener.
func checkAdvertise(t *testing.T, m *manifests, where string, ss *appsv1.StatefulSet, c corev1.Container) {
	t.Helper()
	listen, _ := flag(c.Args, "nats-listen")
	natsPort, err := portOf(listen)
	if err != nil {
		t.Errorf("%s: --nats-listen: %v", where, err)
		return
	}
	if _, ok := containerPort(c, intstr.FromInt32(natsPort)); !ok {
		t.Errorf("%s: the NATS port %d is not a container port", where, natsPort)
	}
	adv, ok := flag(c.Args, "nats-advertise")
	if !ok {
		t.Errorf("%s: no --nats-advertise: users would be shown the listener, 0.0.0.0", where)
		return
	}
	for _, s := range strings.Split(adv, ",") {
		u, err := url.Parse(strings.TrimSpace(s))
		if err != nil || (u.Scheme != "nats" && u.Scheme != "tls") || u.Port() == "" {
			t.Errorf("%s: --nats-advertise %q is not nats://host:port or tls://host:port", where, s)
			continue
		}
		switch h := u.Hostname(); h {
		case "0.0.0.0", "::", "127.0.0.1", "localhost", "::1":
			t.Errorf("%s: --nats-advertise %q is not reachable by users", where, s)
		}
		port, _ := strconv.Atoi(u.Port())
		exposed := false
		for _, svc := range find[*corev1.Service](m, "Service") {
			if svc.Spec.Type != corev1.ServiceTypeLoadBalancer && svc.Spec.Type != corev1.ServiceTypeNodePort {
				continue
			}
			if !matches(svc.Spec.Selector, ss.Spec.Template.Labels) {
				continue
			}
			for _, sp := range svc.Spec.Ports {
				cp, ok := containerPort(c, sp.TargetPort)
				if ok && cp.ContainerPort == natsPort && sp.Port == int32(port) {
					exposed = true
				}
			}
		}
		if !exposed {
			t.Errorf("%s: --nats-advertise %q: no LoadBalancer or NodePort Service sends port %d to the NATS listener", where, s, port)
		}
	}
}

func TestServices(t *testing.T) {
	m := load(t)
	sets := find[*appsv1.StatefulSet](m, "StatefulSet")
	for _, svc := range find[*corev1.Service](m, "Service") {
		where := m.fileOf("Service", svc.Name) + ": Service " + svc.Name
		var target *appsv1.StatefulSet
		for _, ss := range sets {
			if matches(svc.Spec.Selector, ss.Spec.Template.Labels) {
				target = ss
			}
		}
		if target == nil {
			t.Errorf("%s: selects no pods of the manifests", where)
			continue
		}
		for _, sp := range svc.Spec.Ports {
			tp := sp.TargetPort
			if tp.Type == intstr.Int && tp.IntVal == 0 {
				tp = intstr.FromInt32(sp.Port)
			}
			found := false
			for _, c := range target.Spec.Template.Spec.Containers {
				if _, ok := containerPort(c, tp); ok {
					found = true
				}
			}
			if !found {
				t.Errorf("%s: port %s targets %s, which no container of %s declares", where, sp.Name, tp.String(), target.Name)
			}
		}
	}
}

func TestIngress(t *testing.T) {
	m := load(t)
	ings := find[*networkingv1.Ingress](m, "Ingress")
	if len(ings) == 0 {
		t.Fatal("no Ingress: the web app and API need an HTTP(S) entry")
	}
	for _, ing := range ings {
		where := m.fileOf("Ingress", ing.Name) + ": Ingress " + ing.Name
		root := false
		hosts := map[string]bool{}
		for _, r := range ing.Spec.Rules {
			if r.Host == "" {
				t.Errorf("%s: a rule without a host (the app gets its own subdomain)", where)
			}
			hosts[r.Host] = true
			if r.HTTP == nil {
				continue
			}
			for _, p := range r.HTTP.Paths {
				if p.Path == "/" && p.PathType != nil && *p.PathType == networkingv1.PathTypePrefix {
					root = true // the web app, /api/, /_/ and /nats
				}
				b := p.Backend.Service
				if b == nil {
					t.Errorf("%s: path %s has no Service backend", where, p.Path)
					continue
				}
				o, ok := m.get("Service", b.Name)
				if !ok {
					t.Errorf("%s: backend Service %s is not in the manifests", where, b.Name)
					continue
				}
				svc := o.obj.(*corev1.Service)
				if svc.Spec.ClusterIP == corev1.ClusterIPNone {
					t.Errorf("%s: backend %s is headless", where, b.Name)
				}
				okPort := false
				for _, sp := range svc.Spec.Ports {
					okPort = okPort || (b.Port.Name != "" && sp.Name == b.Port.Name) || (b.Port.Number != 0 && sp.Port == b.Port.Number)
				}
				if !okPort {
					t.Errorf("%s: backend %s has no port %v", where, b.Name, b.Port)
				}
			}
		}
		if !root {
			t.Errorf("%s: no Prefix path / (the app, API and /nats WebSocket share one origin)", where)
		}
		for _, tls := range ing.Spec.TLS {
			for _, h := range tls.Hosts {
				if !hosts[h] {
					t.Errorf("%s: TLS host %s has no rule", where, h)
				}
			}
			if tls.SecretName != "" {
				_, inManifests := m.get("Secret", tls.SecretName)
				issued := ing.Annotations["cert-manager.io/cluster-issuer"] != "" || ing.Annotations["cert-manager.io/issuer"] != ""
				if !inManifests && !issued && !m.createdOutside("Secret", tls.SecretName) {
					t.Errorf("%s: TLS Secret %s is neither in the manifests nor issued by cert-manager", where, tls.SecretName)
				}
			}
		}
		if ing.Spec.IngressClassName != nil && *ing.Spec.IngressClassName == "nginx" {
			// ingress-nginx closes a proxied connection idle for 60 s;
			// NATS clients ping every 2 minutes.
			for _, a := range []string{"proxy-read-timeout", "proxy-send-timeout"} {
				v, err := strconv.Atoi(ing.Annotations["nginx.ingress.kubernetes.io/"+a])
				if err != nil || v < 150 {
					t.Errorf("%s: nginx.ingress.kubernetes.io/%s = %q; the /nats WebSocket needs more than the 2-minute NATS ping interval", where, a, ing.Annotations["nginx.ingress.kubernetes.io/"+a])
				}
			}
		}
	}
}

// TestNATSCluster: the cluster's JetStream totals fit its pods, a websocket
// listener backs Pocketbus's /nats in cluster mode (--nats-ws-url in the
// steps names a Service with that port), and the routes name every replica.
func TestNATSCluster(t *testing.T) {
	m := load(t)
	o, ok := m.get("StatefulSet", "nats")
	if !ok {
		t.Skip("no nats StatefulSet")
	}
	ss := o.obj.(*appsv1.StatefulSet)
	c := ss.Spec.Template.Spec.Containers[0]
	var conf string
	for _, vm := range c.VolumeMounts {
		if !strings.HasSuffix(vm.MountPath, ".conf") {
			continue
		}
		for _, v := range ss.Spec.Template.Spec.Volumes {
			if v.Name == vm.Name && v.ConfigMap != nil {
				if cm, ok := m.get("ConfigMap", v.ConfigMap.Name); ok {
					conf = cm.obj.(*corev1.ConfigMap).Data[vm.SubPath]
				}
			}
		}
	}
	if conf == "" {
		t.Fatal("the nats container mounts no config from a ConfigMap of the manifests")
	}
	confValue := func(key string) string {
		g := regexp.MustCompile(`(?m)^\s*` + key + `\s*[:=]\s*(\S+)`).FindStringSubmatch(conf)
		if g == nil {
			return ""
		}
		return strings.Trim(g[1], `"`)
	}
	memLimit := c.Resources.Limits[corev1.ResourceMemory]
	if v := confValue("max_memory_store"); v == "" {
		t.Error("nats.conf: no max_memory_store")
	} else if n, err := size(v); err != nil || n >= memLimit.Value() {
		t.Errorf("nats.conf: max_memory_store %s is not below the memory limit %s (%v)", v, memLimit.String(), err)
	}
	storeDir := confValue("store_dir")
	var storage resource.Quantity
	for _, vm := range c.VolumeMounts {
		if strings.HasPrefix(storeDir, vm.MountPath+"/") || storeDir == vm.MountPath {
			for _, cl := range ss.Spec.VolumeClaimTemplates {
				if cl.Name == vm.Name {
					storage = cl.Spec.Resources.Requests[corev1.ResourceStorage]
				}
			}
		}
	}
	if storage.IsZero() {
		t.Errorf("nats.conf: store_dir %q is not on a volume claim template", storeDir)
	} else if v := confValue("max_file_store"); v == "" {
		t.Error("nats.conf: no max_file_store")
	} else if n, err := size(v); err != nil || n >= storage.Value() {
		t.Errorf("nats.conf: max_file_store %s is not below the volume's %s (%v)", v, storage.String(), err)
	}

	// websocket {} backs /nats in cluster mode.
	ws := regexp.MustCompile(`(?s)websocket\s*\{[^}]*listen:\s*\S*:(\d+)`).FindStringSubmatch(conf)
	if ws == nil {
		t.Fatal("nats.conf: no websocket { listen: ... } block; /nats has nothing to proxy in cluster mode")
	}
	wsPort, _ := strconv.Atoi(ws[1])
	if _, ok := containerPort(c, intstr.FromInt(wsPort)); !ok {
		t.Errorf("the websocket port %d is not a container port", wsPort)
	}
	g := regexp.MustCompile(`--nats-ws-url=ws://([a-z0-9-]+):(\d+)`).FindStringSubmatch(m.text[o.file])
	if g == nil {
		t.Errorf("%s: the steps give no --nats-ws-url=ws://SERVICE:PORT", o.file)
	} else {
		svcPort, _ := strconv.Atoi(g[2])
		so, ok := m.get("Service", g[1])
		found := false
		if ok {
			for _, sp := range so.obj.(*corev1.Service).Spec.Ports {
				cp, ok := containerPort(c, sp.TargetPort)
				found = found || (ok && sp.Port == int32(svcPort) && cp.ContainerPort == int32(wsPort))
			}
		}
		if !found {
			t.Errorf("--nats-ws-url=ws://%s:%s does not reach the websocket listener (port %d) through a Service", g[1], g[2], wsPort)
		}
	}
	for i := int32(0); i < *ss.Spec.Replicas; i++ {
		route := fmt.Sprintf("nats-route://%s-%d.%s:", ss.Name, i, ss.Spec.ServiceName)
		if !strings.Contains(conf, route) {
			t.Errorf("nats.conf: no route %s...", route)
		}
	}
}

// pocketbusCmd is a pocketbus command line in a manifest's comments.
var pocketbusCmd = regexp.MustCompile(`(^|[\s/])pocketbus (nats|superuser|migrate|serve)\b`)

// TestStepsPassTheEncryptionKey: every pocketbus command in the manifests'
// instructions that opens the data dir passes --encryptionEnv (without it,
// `nats operator` cannot read the encrypted seeds, finding 9 of the
// operations issue).
func TestStepsPassTheEncryptionKey(t *testing.T) {
	m := load(t)
	n := 0
	for file, text := range m.text {
		lines := strings.Split(text, "\n")
		for i := 0; i < len(lines); i++ {
			l := strings.TrimSpace(strings.TrimPrefix(strings.TrimSpace(lines[i]), "#"))
			if !pocketbusCmd.MatchString(l) {
				continue
			}
			cmd := l
			for strings.HasSuffix(cmd, "\\") && i+1 < len(lines) {
				i++
				cmd = strings.TrimSuffix(cmd, "\\") + " " + strings.TrimSpace(strings.TrimPrefix(strings.TrimSpace(lines[i]), "#"))
			}
			if !strings.Contains(cmd, "--dir") {
				continue
			}
			n++
			if !strings.Contains(cmd, "--encryptionEnv") {
				t.Errorf("%s: %q opens the data dir without --encryptionEnv", file, cmd)
			}
		}
	}
	if n == 0 {
		t.Error("no pocketbus commands found in the instructions (the check looks for `pocketbus nats|superuser|migrate|serve ... --dir`)")
	}
}

func TestSize(t *testing.T) {
	for in, want := range map[string]int64{"512M": 512 << 20, "16G": 16 << 30, "1.5G": 3 << 29, "512MiB": 512 << 20, "45GB": 45 << 30, "1024": 1024, "2t": 2 << 40} {
		if got, err := size(in); err != nil || got != want {
			t.Errorf("size(%q) = %d, %v; want %d", in, got, err, want)
		}
	}
	for _, bad := range []string{"", "G", "1.5X", "-1G"} {
		if _, err := size(bad); err == nil {
			t.Errorf("size(%q) accepted", bad)
		}
	}
}
