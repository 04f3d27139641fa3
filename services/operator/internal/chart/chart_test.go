package chart_test

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"slices"
	"sort"
	"strings"
	"testing"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	policyv1 "k8s.io/api/policy/v1"
	rbacv1 "k8s.io/api/rbac/v1"
	"k8s.io/apimachinery/pkg/api/equality"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apimachinery/pkg/util/intstr"
	"k8s.io/apimachinery/pkg/util/wait"
	utilyaml "k8s.io/apimachinery/pkg/util/yaml"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/rapportcrm/rapport/services/operator/internal/envtestkit"
)

const (
	release   = "rapport"
	namespace = "rapport-system"
	// owner is the field manager the test applies the rendered chart as.
	owner = client.FieldOwner("rapport-chart-test")
	// tenantsCRD is the CustomResourceDefinition the chart ships in crds/.
	tenantsCRD = "tenants.crm.rapport.io"
	// fullname is the release's resource name, the ClusterRole's included.
	fullname = "rapport-rapport-operator"
)

// required are the values every installation must give.
var required = []string{"--set", "region=ru-central-1", "--set", "kafka.brokers={kafka:9092}"}

var crdGVK = schema.GroupVersionKind{Group: "apiextensions.k8s.io", Version: "v1", Kind: "CustomResourceDefinition"}

// root is the repository's root.
// defaultEnv is the operator's environment the chart renders from the
// required values alone.
var defaultEnv = map[string]string{
	"RAPPORT_REGION": "ru-central-1",
	"KAFKA_BROKERS":  "kafka:9092",
	// No TENANT_REQUIRED_SERVICES: the operator waits for its catalogue's
	// services (TestDefaultValuesMakeATenantReady).
	"TENANT_NAMESPACE_PREFIX": "tenant-",
	"METRICS_ADDR":            ":8080",
	"HEALTH_ADDR":             ":8081",
	"LEADER_ELECT":            "true",
	"OTEL_SERVICE_NAME":       "rapport-operator",
}

// withEnv is env with name set to value, as a copy.
func withEnv(env map[string]string, name, value string) map[string]string {
	out := make(map[string]string, len(env)+1)
	for k, v := range env {
		out[k] = v
	}
	out[name] = value
	return out
}

func root() string {
	_, file, _, _ := runtime.Caller(0)
	return filepath.Join(filepath.Dir(file), "..", "..", "..", "..")
}

func chartDir() string { return filepath.Join(root(), "charts", "rapport-operator") }

// helm runs the pinned helm CLI that make tools builds from the Go module
// proxy, with its own cache and config so the machine's helm setup plays no
// part. It returns stdout and, on failure, an error carrying stderr.
func helm(t *testing.T, args ...string) (string, error) {
	t.Helper()
	bin := filepath.Join(root(), ".cache", "bin", "helm")
	if _, err := os.Stat(bin); err != nil {
		t.Fatalf("no helm at %s: run make tools (it installs the pinned helm from the Go module proxy)", bin)
	}
	home := t.TempDir()
	cmd := exec.Command(bin, args...)
	cmd.Dir = root()
	cmd.Env = append(os.Environ(),
		"HELM_CACHE_HOME="+filepath.Join(home, "cache"),
		"HELM_CONFIG_HOME="+filepath.Join(home, "config"),
		"HELM_DATA_HOME="+filepath.Join(home, "data"),
	)
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	if err := cmd.Run(); err != nil {
		return stdout.String(), errors.New(err.Error() + ": " + stderr.String() + stdout.String())
	}
	return stdout.String(), nil
}

// render runs helm template for the release with the given extra flags and
// decodes every document it prints.
func render(t *testing.T, flags ...string) []*unstructured.Unstructured {
	t.Helper()
	args := append([]string{"template", release, chartDir(), "--namespace", namespace, "--include-crds"}, flags...)
	out, err := helm(t, args...)
	if err != nil {
		t.Fatalf("helm template: %v", err)
	}
	return decode(t, out)
}

// decode splits a multi-document YAML stream into objects, skipping the
// documents that hold nothing but comments.
func decode(t *testing.T, manifest string) []*unstructured.Unstructured {
	t.Helper()
	var objs []*unstructured.Unstructured
	r := utilyaml.NewYAMLReader(bufio.NewReader(strings.NewReader(manifest)))
	for {
		doc, err := r.Read()
		if errors.Is(err, io.EOF) {
			return objs
		}
		if err != nil {
			t.Fatal(err)
		}
		js, err := utilyaml.ToJSON(doc)
		if err != nil {
			t.Fatalf("not YAML: %v\n%s", err, doc)
		}
		if s := string(bytes.TrimSpace(js)); s == "null" || s == "" {
			continue
		}
		u := &unstructured.Unstructured{}
		if err := u.UnmarshalJSON(js); err != nil {
			t.Fatalf("not a Kubernetes object: %v\n%s", err, doc)
		}
		objs = append(objs, u)
	}
}

// only returns the one rendered object of a kind.
func only(t *testing.T, objs []*unstructured.Unstructured, kind string) *unstructured.Unstructured {
	t.Helper()
	var found []*unstructured.Unstructured
	for _, o := range objs {
		if o.GetKind() == kind {
			found = append(found, o)
		}
	}
	if len(found) != 1 {
		t.Fatalf("want one %s in the chart, have %d", kind, len(found))
	}
	return found[0]
}

// env maps the operator container's plain environment variables.
func env(t *testing.T, d *appsv1.Deployment) map[string]string {
	t.Helper()
	if n := len(d.Spec.Template.Spec.Containers); n != 1 {
		t.Fatalf("want one container, have %d", n)
	}
	vars := map[string]string{}
	for _, e := range d.Spec.Template.Spec.Containers[0].Env {
		vars[e.Name] = e.Value
	}
	return vars
}

func toDeployment(t *testing.T, u *unstructured.Unstructured) *appsv1.Deployment {
	t.Helper()
	js, err := u.MarshalJSON()
	if err != nil {
		t.Fatal(err)
	}
	d := &appsv1.Deployment{}
	if err := json.Unmarshal(js, d); err != nil {
		t.Fatal(err)
	}
	return d
}

func TestChartLints(t *testing.T) {
	out, err := helm(t, append([]string{"lint", "--strict", chartDir()}, required...)...)
	if err != nil {
		t.Fatalf("helm lint: %v", err)
	}
	if !strings.Contains(out, "0 chart(s) failed") {
		t.Errorf("helm lint:\n%s", out)
	}
}

// With the chart's defaults alone there is nothing to install (no region, no
// brokers): lint says so, as rendering does, instead of passing a chart that
// helm template then refuses.
func TestChartLintAgreesWithRenderingOnDefaults(t *testing.T) {
	out, err := helm(t, "lint", "--strict", chartDir())
	if err == nil {
		t.Fatalf("helm lint passed the defaults:\n%s", out)
	}
	for _, want := range []string{"region", "brokers"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("want lint to name %q, have: %v", want, err)
		}
	}
	if out, err := helm(t, "template", release, chartDir()); err == nil {
		t.Fatalf("helm template rendered the defaults:\n%s", out)
	}
}

// A value helm cannot install with stops rendering with a message that
// names the value, whether the template (required) or the schema catches it.
func TestChartRefusesBadValues(t *testing.T) {
	tests := []struct {
		name  string
		flags []string
		want  []string
	}{
		{
			name:  "region missing",
			flags: []string{"--set", "kafka.brokers={kafka:9092}"},
			want:  []string{"missing property 'region'"},
		},
		{
			name:  "region empty",
			flags: []string{"--set", "region=", "--set", "kafka.brokers={kafka:9092}"},
			want:  []string{"/region", "does not match pattern"},
		},
		{
			name:  "region malformed",
			flags: []string{"--set", "region=RU_Central", "--set", "kafka.brokers={kafka:9092}"},
			want:  []string{"/region", "RU_Central", "does not match pattern"},
		},
		{
			name:  "brokers missing",
			flags: []string{"--set", "region=ru-central-1"},
			want:  []string{"/kafka", "missing property 'brokers'"},
		},
		{
			name:  "unknown OTLP protocol",
			flags: append([]string{"--set", "otel.endpoint=http://collector:4318", "--set", "otel.protocol=http/json"}, required...),
			want:  []string{"/otel/protocol"},
		},
		{
			name:  "broker without a port",
			flags: []string{"--set", "region=ru-central-1", "--set", "kafka.brokers={kafka}"},
			want:  []string{"/kafka/brokers/0", "does not match pattern"},
		},
		{
			name:  "no replicas",
			flags: append([]string{"--set", "replicaCount=0"}, required...),
			want:  []string{"/replicaCount", "minimum"},
		},
		{
			name:  "misspelt value",
			flags: append([]string{"--set", "regoin=ru-central-1"}, required...),
			want:  []string{"regoin"},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			out, err := helm(t, append([]string{"template", release, chartDir(), "--namespace", namespace}, tt.flags...)...)
			if err == nil {
				t.Fatalf("helm rendered the chart:\n%s", out)
			}
			for _, want := range tt.want {
				if !strings.Contains(err.Error(), want) {
					t.Errorf("want the error to say %q, have: %v", want, err)
				}
			}
		})
	}
}

// The values reach the operator's environment, the one place it reads its
// configuration from.
func TestChartRendersValuesIntoTheEnvironment(t *testing.T) {
	tests := []struct {
		name  string
		flags []string
		want  map[string]string
		// replicas is the Deployment's replica count.
		replicas int32
	}{
		{
			name:     "defaults",
			flags:    required,
			replicas: 2,
			want:     withEnv(defaultEnv, "POD_NAMESPACE", ""),
		},
		{
			name: "everything set",
			flags: []string{
				"--set", "region=eu-west-2",
				"--set", "kafka.brokers={kafka-0.kafka:9092,kafka-1.kafka:9092}",
				"--set", "requiredServices={contacts,sales}",
				"--set", "tenantNamespacePrefix=crm-",
				"--set", "leaderElection.enabled=false",
				"--set", "replicaCount=1",
				"--set", "otel.endpoint=http://otel-collector.observability:4317",
				"--set", "otel.protocol=grpc",
			},
			replicas: 1,
			want: map[string]string{
				"RAPPORT_REGION":              "eu-west-2",
				"KAFKA_BROKERS":               "kafka-0.kafka:9092,kafka-1.kafka:9092",
				"TENANT_REQUIRED_SERVICES":    "contacts,sales",
				"TENANT_NAMESPACE_PREFIX":     "crm-",
				"METRICS_ADDR":                ":8080",
				"HEALTH_ADDR":                 ":8081",
				"LEADER_ELECT":                "false",
				"POD_NAMESPACE":               "",
				"OTEL_SERVICE_NAME":           "rapport-operator",
				"OTEL_EXPORTER_OTLP_ENDPOINT": "http://otel-collector.observability:4317",
				"OTEL_EXPORTER_OTLP_PROTOCOL": "grpc",
			},
		},
		{
			// The exporter speaks OTLP over HTTP unless told otherwise, so
			// the protocol goes with the endpoint.
			name:     "an endpoint alone",
			flags:    append([]string{"--set", "otel.endpoint=http://otel-collector:4318"}, required...),
			replicas: 2,
			want: withEnv(withEnv(withEnv(defaultEnv, "POD_NAMESPACE", ""),
				"OTEL_EXPORTER_OTLP_ENDPOINT", "http://otel-collector:4318"), "OTEL_EXPORTER_OTLP_PROTOCOL", "http/protobuf"),
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			d := toDeployment(t, only(t, render(t, tt.flags...), "Deployment"))
			have := env(t, d)
			for name, want := range tt.want {
				if v, ok := have[name]; !ok || v != want {
					t.Errorf("%s: want %q, have %q (set: %v)", name, want, v, ok)
				}
			}
			for name := range have {
				if _, ok := tt.want[name]; !ok {
					t.Errorf("unexpected variable %s=%q", name, have[name])
				}
			}
			if d.Spec.Replicas == nil || *d.Spec.Replicas != tt.replicas {
				t.Errorf("replicas: want %d, have %v", tt.replicas, d.Spec.Replicas)
			}
		})
	}
}

// The rendered chart is applied, server-side, to a real kube-apiserver: the
// API server, not the test, judges every object.
func TestChartInstallsIntoARealAPIServer(t *testing.T) {
	objs := render(t, required...)
	var kinds []string
	for _, o := range objs {
		kinds = append(kinds, o.GetKind())
	}
	sort.Strings(kinds)
	if want := []string{"ClusterRole", "ClusterRoleBinding", "CustomResourceDefinition", "Deployment", "PodDisruptionBudget", "Service", "ServiceAccount"}; !slices.Equal(kinds, want) {
		t.Fatalf("kinds rendered: want %v, have %v", want, kinds)
	}

	_, c := envtestkit.Start(t)
	ctx, cancel := context.WithTimeout(t.Context(), 2*time.Minute)
	defer cancel()

	// envtestkit pre-installs the CRDs from the same folder; remove them so
	// the copy helm rendered is the one that gets established and served.
	removeCRD(ctx, t, c, tenantsCRD)

	if err := c.Create(ctx, &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: namespace}}); err != nil {
		t.Fatal(err)
	}
	// CRDs first, established before anything else, as helm installs them.
	for _, o := range objs {
		if o.GetKind() == crdGVK.Kind {
			apply(ctx, t, c, o)
			waitEstablished(ctx, t, c, o.GetName())
		}
	}
	for _, o := range objs {
		if o.GetKind() != crdGVK.Kind {
			apply(ctx, t, c, o)
		}
	}

	dep := only(t, objs, "Deployment")
	var d appsv1.Deployment
	if err := c.Get(ctx, client.ObjectKey{Namespace: namespace, Name: dep.GetName()}, &d); err != nil {
		t.Fatal(err)
	}
	sa := only(t, objs, "ServiceAccount")

	t.Run("the Deployment runs the operator as configured", func(t *testing.T) {
		checkDeployment(t, &d, sa.GetName())
	})

	t.Run("the ClusterRoleBinding grants the generated ClusterRole to the ServiceAccount", func(t *testing.T) {
		var crb rbacv1.ClusterRoleBinding
		if err := c.Get(ctx, client.ObjectKey{Name: only(t, objs, "ClusterRoleBinding").GetName()}, &crb); err != nil {
			t.Fatal(err)
		}
		if crb.RoleRef.Kind != "ClusterRole" || crb.RoleRef.Name != fullname {
			t.Errorf("roleRef: %+v", crb.RoleRef)
		}
		var role rbacv1.ClusterRole
		if err := c.Get(ctx, client.ObjectKey{Name: crb.RoleRef.Name}, &role); err != nil {
			t.Fatalf("the bound ClusterRole: %v", err)
		}
		checkRules(t, role.Rules)
		if want := generatedRules(t); !equality.Semantic.DeepEqual(role.Rules, want) {
			t.Errorf("the ClusterRole's rules are not controller-gen's:\nhave %+v\nwant %+v", role.Rules, want)
		}
		if len(crb.Subjects) != 1 {
			t.Fatalf("subjects: %+v", crb.Subjects)
		}
		s := crb.Subjects[0]
		if s.Kind != "ServiceAccount" || s.Namespace != namespace || s.Name != d.Spec.Template.Spec.ServiceAccountName {
			t.Errorf("subject %+v is not the operator's ServiceAccount %s/%s", s, namespace, d.Spec.Template.Spec.ServiceAccountName)
		}
		var account corev1.ServiceAccount
		if err := c.Get(ctx, client.ObjectKey{Namespace: s.Namespace, Name: s.Name}, &account); err != nil {
			t.Errorf("the bound ServiceAccount: %v", err)
		}
	})

	t.Run("the PodDisruptionBudget covers the operator's Pods", func(t *testing.T) {
		var pdb policyv1.PodDisruptionBudget
		if err := c.Get(ctx, client.ObjectKey{Namespace: namespace, Name: fullname}, &pdb); err != nil {
			t.Fatal(err)
		}
		if pdb.Spec.MaxUnavailable == nil || pdb.Spec.MaxUnavailable.IntValue() != 1 || pdb.Spec.MinAvailable != nil {
			t.Errorf("want maxUnavailable 1, have %+v", pdb.Spec)
		}
		sel, err := metav1.LabelSelectorAsSelector(pdb.Spec.Selector)
		if err != nil || sel.Empty() || !sel.Matches(labels.Set(d.Spec.Template.Labels)) {
			t.Errorf("selector %v does not match the Pods' labels %v (%v)", pdb.Spec.Selector, d.Spec.Template.Labels, err)
		}
	})

	t.Run("a second release installs beside the first", func(t *testing.T) {
		// Cluster-wide objects are the release's own: another release's
		// ClusterRole and binding neither clash with nor replace these.
		other := render(t, append([]string{"--set", "nameOverride=crm-operator"}, required...)...)
		for _, o := range other {
			if o.GetKind() == "ClusterRole" || o.GetKind() == "ClusterRoleBinding" {
				if o.GetName() == fullname {
					t.Fatalf("the second release's %s is named %s too", o.GetKind(), o.GetName())
				}
				if o.GetLabels()["app.kubernetes.io/instance"] != release {
					t.Errorf("%s %s lacks the release's labels: %v", o.GetKind(), o.GetName(), o.GetLabels())
				}
				apply(ctx, t, c, o)
			}
		}
		var role rbacv1.ClusterRole
		if err := c.Get(ctx, client.ObjectKey{Name: fullname}, &role); err != nil {
			t.Fatal(err)
		}
		if role.Labels["app.kubernetes.io/name"] != "rapport-operator" {
			t.Errorf("the first release's ClusterRole was taken over: %v", role.Labels)
		}
	})

	t.Run("the metrics Service selects the operator's Pods", func(t *testing.T) {
		var svc corev1.Service
		if err := c.Get(ctx, client.ObjectKey{Namespace: namespace, Name: only(t, objs, "Service").GetName()}, &svc); err != nil {
			t.Fatal(err)
		}
		if len(svc.Spec.Ports) != 1 || svc.Spec.Ports[0].Port != 8080 || svc.Spec.Ports[0].TargetPort != intstr.FromString("metrics") {
			t.Errorf("ports: %+v", svc.Spec.Ports)
		}
		sel, err := metav1.LabelSelectorAsSelector(&metav1.LabelSelector{MatchLabels: svc.Spec.Selector})
		if err != nil || len(svc.Spec.Selector) == 0 {
			t.Fatalf("selector %v: %v", svc.Spec.Selector, err)
		}
		if !sel.Matches(labels.Set(d.Spec.Template.Labels)) {
			t.Errorf("selector %v does not match the Pods' labels %v", svc.Spec.Selector, d.Spec.Template.Labels)
		}
	})

	t.Run("the Tenant CRD is served and validates", func(t *testing.T) {
		tenants := &unstructured.UnstructuredList{}
		tenants.SetGroupVersionKind(schema.GroupVersionKind{Group: "crm.rapport.io", Version: "v1alpha1", Kind: "TenantList"})
		if err := c.List(ctx, tenants); err != nil {
			t.Fatalf("listing tenants: %v", err)
		}
		if err := c.Create(ctx, tenant("acme", "ru-central-1")); err != nil {
			t.Errorf("a valid Tenant was refused: %v", err)
		}
		if err := c.Create(ctx, tenant("globex", "RU Central")); !apierrors.IsInvalid(err) {
			t.Errorf("a Tenant with a malformed region: want Invalid, have %v", err)
		}
	})

	t.Run("the API server refuses a broken manifest", func(t *testing.T) {
		tests := []struct {
			name  string
			path  []string
			value any
			// want is what the server's refusal must name.
			want string
		}{
			{name: "replicas as a string", path: []string{"spec", "replicas"}, value: "two", want: ".spec.replicas"},
			{name: "an unknown field", path: []string{"spec", "replicaz"}, value: int64(5), want: ".spec.replicaz"},
			{name: "a port out of range", path: []string{"spec", "template", "spec", "containers"}, value: []any{map[string]any{
				"name": "operator", "image": "example", "ports": []any{map[string]any{"containerPort": int64(70000)}},
			}}, want: "containerPort"},
		}
		for _, tt := range tests {
			broken := dep.DeepCopy()
			broken.SetName("broken")
			if err := unstructured.SetNestedField(broken.Object, tt.value, tt.path...); err != nil {
				t.Fatal(err)
			}
			err := c.Apply(ctx, client.ApplyConfigurationFromUnstructured(broken), owner)
			// A status from the server, whatever its code: apply answers a
			// schema mismatch with 500 ("failed to create typed patch object"),
			// a semantic one with 422.
			var refusal *apierrors.StatusError
			if !errors.As(err, &refusal) || !strings.Contains(refusal.Error(), tt.want) {
				t.Errorf("%s: want the API server to refuse %s, have %v", tt.name, tt.want, err)
			} else {
				t.Logf("%s: refused with %d: %s", tt.name, refusal.Status().Code, refusal.Status().Message)
			}
			if err := c.Get(ctx, client.ObjectKey{Namespace: namespace, Name: "broken"}, &appsv1.Deployment{}); !apierrors.IsNotFound(err) {
				t.Errorf("%s: a refused Deployment was stored: %v", tt.name, err)
			}
		}
	})
}

func checkDeployment(t *testing.T, d *appsv1.Deployment, serviceAccount string) {
	t.Helper()
	if d.Spec.Replicas == nil || *d.Spec.Replicas != 2 {
		t.Errorf("replicas: want 2, have %v", d.Spec.Replicas)
	}
	pod := d.Spec.Template.Spec
	if pod.ServiceAccountName != serviceAccount {
		t.Errorf("serviceAccountName: want %q, have %q", serviceAccount, pod.ServiceAccountName)
	}
	have := env(t, d)
	for name, want := range defaultEnv {
		if have[name] != want {
			t.Errorf("%s: want %q, have %q", name, want, have[name])
		}
	}
	if _, ok := have["OTEL_EXPORTER_OTLP_ENDPOINT"]; ok {
		t.Error("OTEL_EXPORTER_OTLP_ENDPOINT set without otel.endpoint")
	}
	if v, ok := have["TENANT_REQUIRED_SERVICES"]; ok {
		t.Errorf("TENANT_REQUIRED_SERVICES=%q set without requiredServices: the operator would not wait for its catalogue", v)
	}
	ctr := pod.Containers[0]
	podNamespace := false
	for _, e := range ctr.Env {
		if e.Name == "POD_NAMESPACE" {
			podNamespace = e.ValueFrom != nil && e.ValueFrom.FieldRef != nil && e.ValueFrom.FieldRef.FieldPath == "metadata.namespace"
		}
	}
	if !podNamespace {
		t.Error("POD_NAMESPACE does not come from the downward API's metadata.namespace")
	}
	if want := "ghcr.io/rapportcrm/rapport-operator:0.1.0"; ctr.Image != want {
		t.Errorf("image: want %s, have %s", want, ctr.Image)
	}
	if len(ctr.Args) != 0 || len(ctr.Command) != 0 {
		t.Errorf("the operator takes its configuration from the environment, not args: %v %v", ctr.Command, ctr.Args)
	}

	ports := map[string]int32{}
	for _, p := range ctr.Ports {
		ports[p.Name] = p.ContainerPort
	}
	if ports["metrics"] != 8080 || ports["health"] != 8081 {
		t.Errorf("ports: want metrics 8080 and health 8081, have %v", ports)
	}
	for name, probe := range map[string]struct {
		p    *corev1.Probe
		path string
	}{"liveness": {ctr.LivenessProbe, "/healthz"}, "readiness": {ctr.ReadinessProbe, "/readyz"}} {
		if probe.p == nil || probe.p.HTTPGet == nil {
			t.Errorf("%s probe: want GET %s, have %+v", name, probe.path, probe.p)
			continue
		}
		get := probe.p.HTTPGet
		port := get.Port.IntVal
		if get.Port.Type == intstr.String {
			port = ports[get.Port.StrVal]
		}
		if get.Path != probe.path || port != 8081 {
			t.Errorf("%s probe: want GET %s on :8081, have GET %s on %s (:%d)", name, probe.path, get.Path, get.Port.String(), port)
		}
	}

	sc := ctr.SecurityContext
	switch {
	case sc == nil:
		t.Error("no container securityContext")
	case sc.RunAsNonRoot == nil || !*sc.RunAsNonRoot,
		sc.ReadOnlyRootFilesystem == nil || !*sc.ReadOnlyRootFilesystem,
		sc.AllowPrivilegeEscalation == nil || *sc.AllowPrivilegeEscalation,
		sc.Capabilities == nil || !slices.Equal(sc.Capabilities.Drop, []corev1.Capability{"ALL"}),
		sc.SeccompProfile == nil || sc.SeccompProfile.Type != corev1.SeccompProfileTypeRuntimeDefault:
		t.Errorf("securityContext is not locked down: %+v", sc)
	}

	for name, want := range map[string]struct {
		have resource.Quantity
		want string
	}{
		"requests.cpu":    {ctr.Resources.Requests[corev1.ResourceCPU], "50m"},
		"requests.memory": {ctr.Resources.Requests[corev1.ResourceMemory], "64Mi"},
		"limits.memory":   {ctr.Resources.Limits[corev1.ResourceMemory], "256Mi"},
	} {
		if want.have.Cmp(resource.MustParse(want.want)) != 0 {
			t.Errorf("resources.%s: want %s, have %s", name, want.want, want.have.String())
		}
	}
}

// generatedRules are the rules controller-gen wrote into rbac/role.yaml.
func generatedRules(t *testing.T) []rbacv1.PolicyRule {
	t.Helper()
	raw, err := os.ReadFile(filepath.Join(chartDir(), "rbac", "role.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	var role rbacv1.ClusterRole
	if err := utilyaml.Unmarshal(raw, &role); err != nil {
		t.Fatal(err)
	}
	return role.Rules
}

// A single replica has no standby to keep, and a budget over it would block
// every node drain.
func TestChartOmitsTheDisruptionBudgetForOneReplica(t *testing.T) {
	for _, tt := range []struct {
		flags []string
		want  bool
	}{
		{required, true},
		{append([]string{"--set", "replicaCount=1"}, required...), false},
		{append([]string{"--set", "podDisruptionBudget.enabled=false"}, required...), false},
	} {
		have := false
		for _, o := range render(t, tt.flags...) {
			have = have || o.GetKind() == "PodDisruptionBudget"
		}
		if have != tt.want {
			t.Errorf("%v: PodDisruptionBudget rendered %v, want %v", tt.flags, have, tt.want)
		}
	}
}

// checkRules asserts the ClusterRole grants what the reconciler needs.
func checkRules(t *testing.T, rules []rbacv1.PolicyRule) {
	t.Helper()
	granted := map[string]bool{}
	for _, r := range rules {
		for _, g := range r.APIGroups {
			for _, res := range r.Resources {
				for _, v := range r.Verbs {
					granted[g+"/"+res+":"+v] = true
				}
			}
		}
	}
	want := map[string][]string{
		"crm.rapport.io/tenants":            {"get", "list", "watch", "update", "patch"},
		"crm.rapport.io/tenants/status":     {"get", "update", "patch"},
		"crm.rapport.io/tenants/finalizers": {"update"},
		"/namespaces":                       {"get", "list", "watch", "create", "update", "patch", "delete"},
		"/secrets":                          {"get", "list", "watch", "create"},
		"coordination.k8s.io/leases":        {"get", "list", "watch", "create", "update", "patch", "delete"},
		"/events":                           {"create", "patch"},
	}
	for res, verbs := range want {
		for _, v := range verbs {
			if !granted[res+":"+v] {
				t.Errorf("the ClusterRole does not grant %s on %s", v, res)
			}
		}
	}
}

// apply server-side applies one rendered object; the API server validates it
// against its schema, so any refusal fails the test.
func apply(ctx context.Context, t *testing.T, c client.Client, o *unstructured.Unstructured) {
	t.Helper()
	if err := c.Apply(ctx, client.ApplyConfigurationFromUnstructured(o.DeepCopy()), owner); err != nil {
		t.Fatalf("the API server refused %s %s: %v", o.GetKind(), o.GetName(), err)
	}
}

func removeCRD(ctx context.Context, t *testing.T, c client.Client, name string) {
	t.Helper()
	crd := &unstructured.Unstructured{}
	crd.SetGroupVersionKind(crdGVK)
	crd.SetName(name)
	if err := c.Delete(ctx, crd); client.IgnoreNotFound(err) != nil {
		t.Fatal(err)
	}
	err := wait.PollUntilContextTimeout(ctx, 100*time.Millisecond, 30*time.Second, true, func(ctx context.Context) (bool, error) {
		err := c.Get(ctx, client.ObjectKey{Name: name}, crd.DeepCopy())
		return apierrors.IsNotFound(err), client.IgnoreNotFound(err)
	})
	if err != nil {
		t.Fatalf("CRD %s is still there: %v", name, err)
	}
}

func waitEstablished(ctx context.Context, t *testing.T, c client.Client, name string) {
	t.Helper()
	err := wait.PollUntilContextTimeout(ctx, 100*time.Millisecond, 30*time.Second, true, func(ctx context.Context) (bool, error) {
		crd := &unstructured.Unstructured{}
		crd.SetGroupVersionKind(crdGVK)
		if err := c.Get(ctx, client.ObjectKey{Name: name}, crd); err != nil {
			return false, err
		}
		conditions, _, _ := unstructured.NestedSlice(crd.Object, "status", "conditions")
		for _, cond := range conditions {
			m, _ := cond.(map[string]any)
			if m["type"] == "Established" && m["status"] == "True" {
				return true, nil
			}
		}
		return false, nil
	})
	if err != nil {
		t.Fatalf("CRD %s never became Established: %v", name, err)
	}
}

func tenant(name, region string) *unstructured.Unstructured {
	u := &unstructured.Unstructured{Object: map[string]any{
		"spec": map[string]any{"region": region, "displayName": name},
	}}
	u.SetGroupVersionKind(schema.GroupVersionKind{Group: "crm.rapport.io", Version: "v1alpha1", Kind: "Tenant"})
	u.SetName(name)
	return u
}
