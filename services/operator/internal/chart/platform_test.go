package chart_test

import (
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/google/uuid"
	appsv1 "k8s.io/api/apps/v1"
	batchv1 "k8s.io/api/batch/v1"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"

	"github.com/rapportcrm/rapport/pkg/auth"
	"github.com/rapportcrm/rapport/pkg/catalog"
	"github.com/rapportcrm/rapport/pkg/dev/devauth"
	"github.com/rapportcrm/rapport/pkg/dev/pgcluster"
	"github.com/rapportcrm/rapport/pkg/dev/testenv"
	tenancyv1 "github.com/rapportcrm/rapport/pkg/gen/crm/tenancy/v1"
	"github.com/rapportcrm/rapport/pkg/tenancy"
)

// The chart runs the platform: every program starts as its Pod's container
// would, with exactly the environment and arguments the rendered objects
// declare (Secrets resolved from what the platform team would create,
// Service names mapped to loopback), the migration Jobs first, as helm's
// hooks run; then a contact and a deal are created through the gateway and
// the chart's helm test passes. A variable the chart forgets, or one it
// gets wrong, fails here.
func TestTheChartRunsThePlatform(t *testing.T) {
	issuer, err := devauth.LoadOrCreate(filepath.Join(t.TempDir(), "dev.pem"))
	if err != nil {
		t.Fatal(err)
	}
	jwks := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		_, _ = w.Write(issuer.JWKS())
	}))
	t.Cleanup(jwks.Close)
	brokers := testenv.Kafka(t, append([]string{tenancy.TopicTenants, tenancy.TopicAcks}, catalog.Topics()...)...)

	// What the platform team provides: a database per service, in a Secret.
	secrets := map[string]map[string]string{}
	dbs := map[string]pgcluster.Database{}
	flags := []string{
		"--set", "global.region=ru-central-1",
		"--set", "global.kafka.brokers={" + strings.Join(brokers, ",") + "}",
		"--set", "auth.jwksURL=" + jwks.URL,
		"--set", "auth.issuer=" + auth.DevIssuerName,
		"--set", "auth.audience=" + auth.DevAudience,
		"--set", "gateway.port=" + strconv.Itoa(testenv.FreePorts(t, 1)),
	}
	for _, name := range catalog.Names() {
		db := testenv.NewDatabase(t)
		dbs[name] = db
		secret := "rapport-" + name + "-db"
		secrets[secret] = map[string]string{"app-url": db.AppURL, "migrate-url": db.OwnerURL}
		flags = append(flags,
			"--set", "services."+name+".database.existingSecret="+secret,
			"--set", "services."+name+".database.appRole="+db.AppRole,
			"--set", "services."+name+".port="+strconv.Itoa(testenv.FreePorts(t, 1)))
	}
	objs := renderUmbrella(t, flags...)
	pods := newPodRunner(t, objs, secrets)

	// helm install: the pre-install hooks (each service's migrations) first.
	for _, job := range byKind(objs, "Job") {
		j := to[batchv1.Job](t, job)
		if !strings.Contains(job.GetAnnotations()["helm.sh/hook"], "pre-install") {
			continue
		}
		c := j.Spec.Template.Spec.Containers[0]
		if out, err := testenv.RunIsolated(t, pods.binary(c.Image), c.Args, pods.env(c, j.Spec.Template.Spec)); err != nil {
			t.Fatalf("the migration Job %s failed: %v\n%s", job.GetName(), err, out)
		}
	}
	// Then the services, and the gateway, which is ready once they are.
	deps := byKind(objs, "Deployment")
	var names []string
	for name := range deps {
		names = append(names, name)
	}
	slices.SortFunc(names, func(a, b string) int { // the gateway last
		return strings.Compare(strconv.FormatBool(a == component("gateway"))+a, strconv.FormatBool(b == component("gateway"))+b)
	})
	for _, name := range names {
		d := to[appsv1.Deployment](t, deps[name])
		if d.Labels["app.kubernetes.io/component"] == "operator" {
			continue // the operator runs against a cluster: its own tests
		}
		c := d.Spec.Template.Spec.Containers[0]
		probe := c.ReadinessProbe.HTTPGet
		ready := fmt.Sprintf("http://127.0.0.1:%d%s", pods.port(c, probe.Port.String()), probe.Path)
		testenv.StartIsolated(t, pods.binary(c.Image), pods.env(c, d.Spec.Template.Spec), ready)
	}

	// A tenant, as the operator would provision it, acknowledged by every service.
	tenant := uuid.New()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	prov := tenancy.NewProvisioner(brokers, "/chart-test")
	defer prov.Close()
	rec := &tenancyv1.TenantRecord{Id: tenant.String(), Name: "chart-test", Generation: 1, Region: "ru-central-1"}
	if err := prov.Publish(ctx, rec); err != nil {
		t.Fatal(err)
	}
	if _, err := prov.WaitAcks(ctx, rec.GetId(), 1, catalog.Acknowledging()); err != nil {
		t.Fatal(err)
	}

	// Through the gateway: a contact, then a deal naming it.
	gw := to[appsv1.Deployment](t, deps[component("gateway")]).Spec.Template.Spec.Containers[0]
	base := fmt.Sprintf("http://127.0.0.1:%d", pods.port(gw, "http"))
	token, err := issuer.Token(auth.Principal{TenantID: tenant, UserID: "ivan", Roles: []string{auth.RoleAdmin}}, time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	contact := testenv.Call(t, "POST", base+"/v1/contacts", token, map[string]any{"first_name": "Anna", "last_name": "Ivanova",
		"emails": []string{"anna@example.com"}}).Want(t, http.StatusCreated)
	deal := testenv.Call(t, "POST", base+"/v1/deals", token, map[string]any{"title": "Fleet renewal", "amount": 150000,
		"contact_id": contact.Str("id")}).Want(t, http.StatusCreated)
	if deal.Str("contact_id") != contact.Str("id") {
		t.Fatalf("the deal names %q, want the contact %q", deal.Str("contact_id"), contact.Str("id"))
	}
	testenv.Call(t, "GET", base+"/v1/tasks", token, nil).Want(t, http.StatusOK)

	// helm test: the chart's test Pod, as it is declared.
	for _, u := range byKind(objs, "Pod") {
		if u.GetAnnotations()["helm.sh/hook"] != "test" {
			continue
		}
		p := to[corev1.Pod](t, u)
		c := p.Spec.Containers[0]
		if out, err := testenv.RunIsolated(t, pods.binary(c.Image), pods.args(c.Args), pods.env(c, p.Spec)); err != nil {
			t.Fatalf("helm test %s failed: %v\n%s", u.GetName(), err, out)
		}
	}
}

// podRunner turns rendered containers into processes on this machine.
type podRunner struct {
	t        *testing.T
	secrets  map[string]map[string]string
	services []string // the rendered Services' names, which resolve to loopback
}

func newPodRunner(t *testing.T, objs []*unstructured.Unstructured, secrets map[string]map[string]string) *podRunner {
	r := &podRunner{t: t, secrets: secrets}
	for name := range byKind(objs, "Service") {
		r.services = append(r.services, name)
	}
	// Longest first, so that no name is taken for a prefix of another.
	slices.SortFunc(r.services, func(a, b string) int { return len(b) - len(a) })
	// Secrets the chart renders itself join the platform team's.
	for name, u := range byKind(objs, "Secret") {
		s := to[corev1.Secret](t, u)
		r.secrets[name] = map[string]string{}
		for k, v := range s.StringData {
			r.secrets[name][k] = v
		}
		for k, v := range s.Data {
			r.secrets[name][k] = string(v)
		}
	}
	return r
}

// binary builds the program an image runs: <registry>/rapport-<program>:<tag>.
func (r *podRunner) binary(image string) string {
	r.t.Helper()
	name := image[strings.LastIndex(image, "/")+1:]
	name, _, _ = strings.Cut(name, ":")
	program, ok := strings.CutPrefix(name, "rapport-")
	if !ok {
		r.t.Fatalf("image %q is not rapport-<program>", image)
	}
	return testenv.BuildProgram(r.t, program)
}

// loopback maps the cluster's Service names in s to 127.0.0.1.
func (r *podRunner) loopback(s string) string {
	for _, svc := range r.services {
		s = strings.ReplaceAll(s, "//"+svc+":", "//127.0.0.1:")
	}
	return s
}

func (r *podRunner) args(args []string) []string {
	out := make([]string, len(args))
	for i, a := range args {
		out[i] = r.loopback(a)
	}
	return out
}

// env is the container's environment as the kubelet would give it: plain
// values (Service names mapped to loopback), Secret keys, the memory limit.
func (r *podRunner) env(c corev1.Container, pod corev1.PodSpec) []string {
	r.t.Helper()
	if len(c.EnvFrom) > 0 {
		r.t.Fatalf("%s: envFrom is not resolved by this test; add it", c.Name)
	}
	var out []string
	for _, e := range c.Env {
		v := r.loopback(e.Value)
		switch {
		case e.ValueFrom == nil:
		case e.ValueFrom.SecretKeyRef != nil:
			ref := e.ValueFrom.SecretKeyRef
			s, ok := r.secrets[ref.Name][ref.Key]
			if !ok {
				r.t.Fatalf("%s %s names Secret %s key %s, which nobody provides", c.Name, e.Name, ref.Name, ref.Key)
			}
			v = s
		case e.ValueFrom.ResourceFieldRef != nil && e.ValueFrom.ResourceFieldRef.Resource == "limits.memory":
			v = strconv.FormatInt(c.Resources.Limits.Memory().Value(), 10)
		default:
			r.t.Fatalf("%s %s: a value source this test does not resolve: %+v", c.Name, e.Name, e.ValueFrom)
		}
		out = append(out, e.Name+"="+v)
	}
	return out
}

// port is the container's port called name.
func (r *podRunner) port(c corev1.Container, name string) int {
	r.t.Helper()
	for _, p := range c.Ports {
		if p.Name == name {
			return int(p.ContainerPort)
		}
	}
	r.t.Fatalf("%s has no port %s", c.Name, name)
	return 0
}
