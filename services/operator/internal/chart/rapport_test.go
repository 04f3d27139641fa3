package chart_test

import (
	"context"
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/yaml"

	"github.com/rapportcrm/rapport/pkg/catalog"
	"github.com/rapportcrm/rapport/pkg/httpkit"
	"github.com/rapportcrm/rapport/services/operator/internal/envtestkit"
)

// The umbrella chart (charts/rapport): the gateway and every catalogued
// service from one component template, the operator as a dependency.

func umbrellaDir() string { return filepath.Join(root(), "charts", "rapport") }

// umbrellaRequired are the values an installation must give.
var umbrellaRequired = []string{
	"--set", "global.region=ru-central-1",
	"--set", "global.kafka.brokers={kafka-0.kafka:9092,kafka-1.kafka:9092}",
	"--set", "auth.jwksURL=https://id.example.com/.well-known/jwks.json",
	"--set", "auth.issuer=https://id.example.com",
	"--set", "auth.audience=rapport",
}

func umbrellaFlags(extra ...string) []string {
	flags := slices.Clone(umbrellaRequired)
	for _, name := range catalog.Names() {
		flags = append(flags, "--set", "services."+name+".database.existingSecret=rapport-"+name+"-db")
	}
	return append(flags, extra...)
}

func renderUmbrella(t *testing.T, flags ...string) []*unstructured.Unstructured {
	t.Helper()
	out, err := helm(t, append([]string{"template", release, umbrellaDir(), "--namespace", namespace, "--include-crds"}, flags...)...)
	if err != nil {
		t.Fatalf("helm template: %v", err)
	}
	return decode(t, out)
}

func byKind(objs []*unstructured.Unstructured, kind string) map[string]*unstructured.Unstructured {
	out := map[string]*unstructured.Unstructured{}
	for _, o := range objs {
		if o.GetKind() == kind {
			out[o.GetName()] = o
		}
	}
	return out
}

func to[T any](t *testing.T, u *unstructured.Unstructured) *T {
	t.Helper()
	var v T
	if err := runtime.DefaultUnstructuredConverter.FromUnstructured(u.Object, &v); err != nil {
		t.Fatalf("%s %s: %v", u.GetKind(), u.GetName(), err)
	}
	return &v
}

// component is the object name of a component of the test release (whose
// name, rapport, already says the chart's).
func component(name string) string { return release + "-" + name }

// containerEnv maps a container's variables: plain values as they are,
// Secret references as secret:<name>/<key>.
func containerEnv(c corev1.Container) map[string]string {
	out := map[string]string{}
	for _, e := range c.Env {
		switch {
		case e.ValueFrom != nil && e.ValueFrom.SecretKeyRef != nil:
			out[e.Name] = "secret:" + e.ValueFrom.SecretKeyRef.Name + "/" + e.ValueFrom.SecretKeyRef.Key
		case e.ValueFrom != nil:
			out[e.Name] = "from-field"
		default:
			out[e.Name] = e.Value
		}
	}
	return out
}

func TestUmbrellaChartLintsStrictly(t *testing.T) {
	args := append([]string{"lint", "--strict", umbrellaDir()}, umbrellaFlags()...)
	if out, err := helm(t, args...); err != nil {
		t.Fatalf("helm lint --strict: %v\n%s", err, out)
	}
	// With the defaults alone, what an installation must say is named.
	_, err := helm(t, "template", release, umbrellaDir())
	if err == nil {
		t.Fatal("the chart rendered without region, brokers, token settings or databases")
	}
	_, err = helm(t, append([]string{"template", release, umbrellaDir()}, umbrellaRequired...)...)
	if err == nil || !strings.Contains(err.Error(), "database.existingSecret is required") {
		t.Fatalf("without a database Secret: %v", err)
	}
}

func TestUmbrellaChartRefusesTyposAndBadValues(t *testing.T) {
	for _, tc := range []struct {
		name string
		flag string
		want string
	}{
		{"a misspelt service key", "services.contacts.databse.existingSecret=x", "additional properties 'databse' not allowed"},
		{"a misspelt top-level key", "logLevl=debug", "additional properties 'logLevl' not allowed"},
		{"a log level that is none", "logLevel=verbose", "/logLevel"},
		{"a broker without a port", "global.kafka.brokers={kafka}", "/global/kafka/brokers/0"},
		{"a JWKS URL that is no URL", "auth.jwksURL=id.example.com", "/auth/jwksURL"},
		{"a misspelt component default", "componentDefaults.replicaz=3", "additional properties 'replicaz' not allowed"},
		{"a peer that is no service", "services.tasks.peers={billing}", "names billing, which is not a service"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			args := append([]string{"template", release, umbrellaDir()}, umbrellaFlags("--set", tc.flag)...)
			_, err := helm(t, args...)
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("want a refusal naming %q, have %v", tc.want, err)
			}
		})
	}
}

// defaultValues reads the chart's values.yaml into v.
func defaultValues(t *testing.T, v any) {
	t.Helper()
	raw, err := os.ReadFile(filepath.Join(umbrellaDir(), "values.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	if err := yaml.Unmarshal(raw, v); err != nil {
		t.Fatal(err)
	}
}

// The chart's services are the catalogue's, and the gateway is told where
// each one is.
func TestUmbrellaChartRendersEveryCatalogedService(t *testing.T) {
	var values struct {
		Services map[string]struct {
			Port  int      `json:"port"`
			Peers []string `json:"peers"`
		} `json:"services"`
	}
	defaultValues(t, &values)
	var names []string
	for name := range values.Services {
		names = append(names, name)
	}
	slices.Sort(names)
	want := slices.Sorted(slices.Values(catalog.Names()))
	if !slices.Equal(names, want) {
		t.Fatalf("values.yaml's services %v, the catalogue's %v", names, want)
	}

	objs := renderUmbrella(t, umbrellaFlags()...)
	deps := byKind(objs, "Deployment")
	gw, ok := deps[component("gateway")]
	if !ok {
		t.Fatalf("no gateway Deployment among %v", slices.Collect(func(yield func(string) bool) {
			for n := range deps {
				yield(n)
			}
		}))
	}
	gwEnv := containerEnv(to[appsv1.Deployment](t, gw).Spec.Template.Spec.Containers[0])
	for _, name := range catalog.Names() {
		d, ok := deps[component(name)]
		if !ok {
			t.Errorf("no Deployment for the catalogued service %s", name)
			continue
		}
		svc := values.Services[name]
		wantURL := "http://" + component(name) + ":" + strconv.Itoa(svc.Port)
		if have := gwEnv[httpkit.PeerVar(name)]; have != wantURL {
			t.Errorf("gateway %s = %q, want %q", httpkit.PeerVar(name), have, wantURL)
		}
		env := containerEnv(to[appsv1.Deployment](t, d).Spec.Template.Spec.Containers[0])
		if have, want := env["DATABASE_URL"], "secret:rapport-"+name+"-db/app-url"; have != want {
			t.Errorf("%s DATABASE_URL = %q, want %q", name, have, want)
		}
		if _, migrates := env["MIGRATE_DATABASE_URL"]; migrates {
			t.Errorf("%s replicas migrate: only the release's Job may", name)
		}
		for _, peer := range svc.Peers {
			if have, want := env[httpkit.PeerVar(peer)], "http://"+component(peer)+":"+strconv.Itoa(values.Services[peer].Port); have != want {
				t.Errorf("%s %s = %q, want %q", name, httpkit.PeerVar(peer), have, want)
			}
		}
		for k, want := range map[string]string{"KAFKA_BROKERS": "kafka-0.kafka:9092,kafka-1.kafka:9092",
			"AUTH_JWKS_URL": "https://id.example.com/.well-known/jwks.json", "HTTP_ADDR": ":" + strconv.Itoa(svc.Port),
			"OPS_ADDR": ":" + strconv.Itoa(svc.Port+1000), "OTEL_SERVICE_NAME": "rapport-" + name} {
			if env[k] != want {
				t.Errorf("%s %s = %q, want %q", name, k, env[k], want)
			}
		}
	}
	if len(deps) != len(catalog.Names())+2 { // the gateway and the operator
		t.Errorf("%d Deployments, want the gateway, %d services and the operator", len(deps), len(catalog.Names()))
	}
	// A service turned off is neither run nor routed to.
	objs = renderUmbrella(t, umbrellaFlags("--set", "services.tasks.enabled=false", "--set", "services.tasks.peers=null")...)
	if _, ok := byKind(objs, "Deployment")[component("tasks")]; ok {
		t.Error("a disabled service was rendered")
	}
	gwEnv = containerEnv(to[appsv1.Deployment](t, byKind(objs, "Deployment")[component("gateway")]).Spec.Template.Spec.Containers[0])
	if _, ok := gwEnv["TASKS_URL"]; ok {
		t.Error("the gateway routes to a disabled service")
	}
}

// Every component's Pods are locked down and spread, probed on the ops
// port, scaled, kept through disruptions and fenced by a NetworkPolicy.
func TestUmbrellaChartComponentsAreHardened(t *testing.T) {
	objs := renderUmbrella(t, umbrellaFlags()...)
	deps := byKind(objs, "Deployment")
	hpas, pdbs, nps := byKind(objs, "HorizontalPodAutoscaler"), byKind(objs, "PodDisruptionBudget"), byKind(objs, "NetworkPolicy")
	for _, name := range append([]string{"gateway"}, catalog.Names()...) {
		u, ok := deps[component(name)]
		if !ok {
			t.Errorf("no Deployment for %s", name)
			continue
		}
		d := to[appsv1.Deployment](t, u)
		pod := d.Spec.Template.Spec
		if pod.SecurityContext == nil || pod.SecurityContext.RunAsNonRoot == nil || !*pod.SecurityContext.RunAsNonRoot ||
			pod.SecurityContext.SeccompProfile == nil || pod.SecurityContext.SeccompProfile.Type != corev1.SeccompProfileTypeRuntimeDefault {
			t.Errorf("%s pod security context: %+v", name, pod.SecurityContext)
		}
		c := pod.Containers[0]
		sc := c.SecurityContext
		if sc == nil || sc.ReadOnlyRootFilesystem == nil || !*sc.ReadOnlyRootFilesystem || sc.AllowPrivilegeEscalation == nil ||
			*sc.AllowPrivilegeEscalation || sc.Capabilities == nil || !slices.Equal(sc.Capabilities.Drop, []corev1.Capability{"ALL"}) {
			t.Errorf("%s container security context: %+v", name, sc)
		}
		if c.LivenessProbe == nil || c.LivenessProbe.HTTPGet.Path != "/healthz" || c.ReadinessProbe == nil || c.ReadinessProbe.HTTPGet.Path != "/readyz" ||
			c.ReadinessProbe.HTTPGet.Port.String() != "ops" {
			t.Errorf("%s probes: liveness %+v readiness %+v", name, c.LivenessProbe, c.ReadinessProbe)
		}
		if c.Resources.Requests.Cpu().IsZero() || c.Resources.Limits.Memory().IsZero() {
			t.Errorf("%s resources: %+v", name, c.Resources)
		}
		if !slices.ContainsFunc(pod.TopologySpreadConstraints, func(s corev1.TopologySpreadConstraint) bool {
			return s.TopologyKey == "topology.kubernetes.io/zone"
		}) {
			t.Errorf("%s is not spread across zones", name)
		}
		if pod.AutomountServiceAccountToken == nil || *pod.AutomountServiceAccountToken {
			t.Errorf("%s mounts a Kubernetes token it never uses", name)
		}
		for what, set := range map[string]map[string]*unstructured.Unstructured{"HorizontalPodAutoscaler": hpas, "PodDisruptionBudget": pdbs, "NetworkPolicy": nps} {
			if _, ok := set[component(name)]; !ok {
				t.Errorf("%s has no %s", name, what)
			}
		}
	}
	// A service admits the gateway and the services that call it, nothing else.
	np := nps[component("contacts")]
	ingress, _, _ := unstructured.NestedSlice(np.Object, "spec", "ingress")
	from, _, _ := unstructured.NestedSlice(ingress[0].(map[string]any), "from")
	var admitted []string
	for _, f := range from {
		name, _, _ := unstructured.NestedString(f.(map[string]any), "podSelector", "matchLabels", "app.kubernetes.io/name")
		admitted = append(admitted, name)
	}
	if want := []string{"rapport-gateway", "rapport-sales", "rapport-tasks"}; !slices.Equal(admitted, want) {
		t.Errorf("contacts admits %v, want %v", admitted, want)
	}
	// One replica, no autoscaling: no budget that would block every drain.
	objs = renderUmbrella(t, umbrellaFlags("--set", "componentDefaults.autoscaling.enabled=false", "--set", "componentDefaults.replicas=1")...)
	if pdbs := byKind(objs, "PodDisruptionBudget"); len(pdbs) != 1 { // the operator's own
		t.Errorf("with one replica each: %d budgets", len(pdbs))
	}
}

// Each service migrates once per release, before its new replicas, as the
// migration role and with nothing else to do.
func TestUmbrellaChartMigratesOncePerRelease(t *testing.T) {
	objs := renderUmbrella(t, umbrellaFlags()...)
	jobs := byKind(objs, "Job")
	if len(jobs) != len(catalog.Names()) {
		t.Fatalf("%d migration Jobs, want one per service (%d)", len(jobs), len(catalog.Names()))
	}
	for _, name := range catalog.Names() {
		u, ok := jobs[component(name)+"-migrate"]
		if !ok {
			t.Errorf("no migration Job for %s", name)
			continue
		}
		if hook := u.GetAnnotations()["helm.sh/hook"]; hook != "pre-install,pre-upgrade" {
			t.Errorf("%s migration hook %q", name, hook)
		}
		env := containerEnv(to[corev1.PodTemplateSpec](t, &unstructured.Unstructured{Object: mustNested(t, u.Object, "spec", "template")}).Spec.Containers[0])
		if env["MIGRATE_ONLY"] != "true" || env["MIGRATE_DATABASE_URL"] != "secret:rapport-"+name+"-db/migrate-url" || env["DATABASE_APP_ROLE"] != "rapport_"+name {
			t.Errorf("%s migration env: %v", name, env)
		}
	}
}

func mustNested(t *testing.T, obj map[string]any, path ...string) map[string]any {
	t.Helper()
	m, ok, err := unstructured.NestedMap(obj, path...)
	if !ok || err != nil {
		t.Fatalf("no %v: %v", path, err)
	}
	return m
}

// productionValues is a production-like installation (ci/production-values.yaml).
func productionValues() string { return filepath.Join(umbrellaDir(), "ci", "production-values.yaml") }

// The CRDs of the optional objects the chart renders, from the Go modules
// of the projects that define them (the proxy serves them; nothing else is
// downloaded): KEDA's ScaledObject and TriggerAuthentication, the
// Prometheus Operator's ServiceMonitor.
var externalCRDs = []struct{ module, file string }{
	{"github.com/kedacore/keda/v2@v2.20.2", "config/crd/bases/keda.sh_scaledobjects.yaml"},
	{"github.com/kedacore/keda/v2@v2.20.2", "config/crd/bases/keda.sh_triggerauthentications.yaml"},
	{"github.com/prometheus-operator/prometheus-operator@v0.85.0", "example/prometheus-operator-crd/monitoring.coreos.com_servicemonitors.yaml"},
}

// moduleCRDs fetches those modules into the module cache and names the CRD files.
func moduleCRDs(t *testing.T) []string {
	t.Helper()
	var files []string
	dirs := map[string]string{}
	for _, crd := range externalCRDs {
		dir, ok := dirs[crd.module]
		if !ok {
			cmd := exec.Command("go", "mod", "download", "-json", crd.module)
			cmd.Dir = t.TempDir()
			cmd.Env = append(os.Environ(), "GOWORK=off", "GOFLAGS=-mod=mod")
			out, err := cmd.Output()
			var info struct{ Dir, Error string }
			if jerr := json.Unmarshal(out, &info); err != nil || jerr != nil || info.Dir == "" {
				t.Fatalf("go mod download %s: %v %v %s", crd.module, err, jerr, info.Error)
			}
			dir, dirs[crd.module] = info.Dir, info.Dir
		}
		files = append(files, filepath.Join(dir, filepath.FromSlash(crd.file)))
	}
	return files
}

// Every object the chart renders, with the required values alone and with
// a production-like values file (KEDA, ServiceMonitor, TLS and SASL to
// Kafka), is one the real API server takes (a server-side dry run, after
// the operator's, KEDA's and the Prometheus Operator's CRDs are in).
func TestUmbrellaChartAppliesToARealAPIServer(t *testing.T) {
	_, c := envtestkit.Start(t, moduleCRDs(t)...)
	ctx, cancel := context.WithTimeout(t.Context(), 2*time.Minute)
	defer cancel()
	if err := c.Create(ctx, &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: namespace}}); err != nil {
		t.Fatal(err)
	}
	for name, flags := range map[string][]string{"required values": umbrellaFlags(), "production values": {"-f", productionValues()}} {
		objs := renderUmbrella(t, flags...)
		kinds := map[string]int{}
		for _, o := range objs {
			if o.GetKind() == crdGVK.Kind {
				continue // envtestkit installed the same CRDs
			}
			kinds[o.GetKind()]++
			if err := c.Apply(ctx, client.ApplyConfigurationFromUnstructured(o.DeepCopy()), owner, client.DryRunAll); err != nil {
				t.Errorf("%s: the API server refused %s %s: %v", name, o.GetKind(), o.GetName(), err)
			}
		}
		want := []string{"Deployment", "Service", "ServiceAccount", "HorizontalPodAutoscaler", "PodDisruptionBudget", "NetworkPolicy", "Job", "Pod"}
		if name == "production values" {
			want = append(want, "ScaledObject", "TriggerAuthentication", "ServiceMonitor")
		}
		for _, kind := range want {
			if kinds[kind] == 0 {
				t.Errorf("%s: nothing of kind %s was rendered (rendered %v)", name, kind, kinds)
			}
		}
	}
}

// KEDA scales a service on its consumer groups' lag (the groups it really
// runs), never beyond the topics' partitions, and replaces its CPU
// autoscaler; a service without consumer groups keeps the latter.
func TestUmbrellaChartScalesConsumersOnTheirLag(t *testing.T) {
	var values struct {
		Services map[string]struct {
			Consumers []struct {
				Group  string   `json:"group"`
				Topics []string `json:"topics"`
			} `json:"consumers"`
		} `json:"services"`
	}
	defaultValues(t, &values)
	// The groups the services run (servicekit names them <service>.<group>).
	runs := map[string][]string{
		"contacts.timeline": catalog.TopicsAboutContacts("contacts"),
		"sales.contacts":    {catalog.ContactsTopic},
		"sales.tasks":       {catalog.TasksTopic},
		"tasks.contacts":    {catalog.ContactsTopic},
		"tasks.sales":       {catalog.SalesTopic},
	}
	seen := 0
	for name, svc := range values.Services {
		for _, c := range svc.Consumers {
			topics, ok := runs[c.Group]
			if !ok || !strings.HasPrefix(c.Group, name+".") {
				t.Errorf("services.%s.consumers names %s, a group the service does not run", name, c.Group)
				continue
			}
			seen++
			if !slices.Equal(slices.Sorted(slices.Values(c.Topics)), slices.Sorted(slices.Values(topics))) {
				t.Errorf("%s reads %v, values.yaml says %v", c.Group, topics, c.Topics)
			}
		}
	}
	if seen != len(runs) {
		t.Errorf("values.yaml names %d of the %d consumer groups", seen, len(runs))
	}

	objs := renderUmbrella(t, "-f", productionValues())
	scaled, hpas := byKind(objs, "ScaledObject"), byKind(objs, "HorizontalPodAutoscaler")
	for _, name := range []string{"contacts", "sales"} {
		so, ok := scaled[component(name)]
		if !ok {
			t.Errorf("no ScaledObject for %s", name)
			continue
		}
		if _, ok := hpas[component(name)]; ok {
			t.Errorf("%s has a CPU autoscaler beside its ScaledObject", name)
		}
		triggers, _, _ := unstructured.NestedSlice(so.Object, "spec", "triggers")
		for _, tr := range triggers {
			meta, _, _ := unstructured.NestedStringMap(tr.(map[string]any), "metadata")
			if !strings.HasPrefix(meta["consumerGroup"], name+".") || meta["tls"] != "enable" || meta["sasl"] != "scram_sha512" {
				t.Errorf("%s trigger %v", name, meta)
			}
		}
	}
	if _, ok := hpas[component("tasks")]; !ok {
		t.Error("tasks, which consumes nothing, lost its CPU autoscaler")
	}
	_, err := helm(t, "template", release, umbrellaDir(), "-f", productionValues(), "--set", "services.contacts.keda.maxReplicas=13")
	if err == nil || !strings.Contains(err.Error(), "more than its topics' partitions") {
		t.Errorf("more replicas than partitions: %v", err)
	}
}

// Kafka's TLS and SASL reach every program that talks to Kafka, the
// operator included, as pkg/kafkaconn reads them.
func TestUmbrellaChartGivesKafkaSecurityToEveryProgram(t *testing.T) {
	if out, err := helm(t, "lint", "--strict", umbrellaDir(), "-f", productionValues()); err != nil {
		t.Fatalf("helm lint --strict with production values: %v\n%s", err, out)
	}
	objs := renderUmbrella(t, "-f", productionValues())
	deps := byKind(objs, "Deployment")
	if len(deps) != len(catalog.Names())+2 {
		t.Fatalf("%d Deployments", len(deps))
	}
	for name, u := range deps {
		pod := to[appsv1.Deployment](t, u).Spec.Template.Spec
		c := pod.Containers[0]
		env := containerEnv(c)
		want := map[string]string{"KAFKA_TLS": "true", "KAFKA_TLS_CA_FILE": "/etc/rapport/kafka/ca/ca.crt",
			"KAFKA_TLS_CERT_FILE": "/etc/rapport/kafka/client/tls.crt", "KAFKA_TLS_KEY_FILE": "/etc/rapport/kafka/client/tls.key",
			"KAFKA_TLS_SERVER_NAME": "kafka.kafka.svc", "KAFKA_SASL_MECHANISM": "SCRAM-SHA-512",
			"KAFKA_SASL_USERNAME": "secret:rapport-kafka-sasl/username", "KAFKA_SASL_PASSWORD": "secret:rapport-kafka-sasl/password"}
		for k, v := range want {
			if env[k] != v {
				t.Errorf("%s %s = %q, want %q", name, k, env[k], v)
			}
		}
		mounted := map[string]string{}
		for _, m := range c.VolumeMounts {
			mounted[m.Name] = m.MountPath
		}
		secrets := map[string]string{}
		for _, v := range pod.Volumes {
			if v.Secret != nil {
				secrets[v.Name] = v.Secret.SecretName
			}
		}
		if mounted["kafka-ca"] != "/etc/rapport/kafka/ca" || mounted["kafka-client"] != "/etc/rapport/kafka/client" ||
			secrets["kafka-ca"] != "kafka-ca" || secrets["kafka-client"] != "rapport-kafka-client" {
			t.Errorf("%s Kafka volumes: mounts %v, secrets %v", name, mounted, secrets)
		}
	}
	// SASL without its Secret is refused before anything renders.
	_, err := helm(t, append([]string{"template", release, umbrellaDir()}, umbrellaFlags("--set", "global.kafka.sasl.mechanism=PLAIN")...)...)
	if err == nil || !strings.Contains(err.Error(), "existingSecret") {
		t.Errorf("SASL without a Secret: %v", err)
	}
}

// The charts' unit tests (charts/*/tests/*_test.yaml) pass under the
// pinned helm-unittest that make tools builds.
func TestChartUnitTests(t *testing.T) {
	bin := filepath.Join(root(), ".cache", "bin", "helm-unittest")
	if _, err := os.Stat(bin); err != nil {
		t.Fatalf("no helm-unittest at %s: run make tools (it builds the pinned helm-unittest from the Go module proxy)", bin)
	}
	suites, _ := filepath.Glob(filepath.Join(root(), "charts", "*", "tests", "*_test.yaml"))
	if len(suites) == 0 {
		t.Fatal("no chart unit tests found under charts/*/tests")
	}
	cmd := exec.Command(bin, umbrellaDir())
	cmd.Dir = root()
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("helm-unittest: %v\n%s", err, out)
	}
}
