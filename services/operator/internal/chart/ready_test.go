package chart_test

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/rapportcrm/rapport/pkg/catalog"
	"github.com/rapportcrm/rapport/pkg/dev/devauth"
	"github.com/rapportcrm/rapport/pkg/dev/testenv"
	"github.com/rapportcrm/rapport/pkg/httpkit"
	"github.com/rapportcrm/rapport/pkg/tenancy"
	crmv1alpha1 "github.com/rapportcrm/rapport/services/operator/api/v1alpha1"
	"github.com/rapportcrm/rapport/services/operator/internal/app"
	"github.com/rapportcrm/rapport/services/operator/internal/envtestkit"
)

func TestMain(m *testing.M) { testenv.Main(m) }

// The operator installed with the chart's default values (and only the
// values every installation must give) makes a Tenant Ready, with every
// catalogued service running as its own process: the defaults name no
// service that does not exist, which would leave every Tenant waiting.
func TestDefaultValuesMakeATenantReady(t *testing.T) {
	rc, c := envtestkit.Start(t)
	topics := append(catalog.Topics(), tenancy.TopicTenants, tenancy.TopicAcks)
	brokers := testenv.Kafka(t, topics...)

	// The operator runs with exactly the environment its Deployment
	// declares, but for its own listeners (ports of the pod) and the
	// namespace the downward API gives.
	d := toDeployment(t, only(t, render(t, "--set", "region=ru-central-1", "--set", "kafka.brokers={"+brokers[0]+"}"), "Deployment"))
	for k, v := range env(t, d) {
		t.Setenv(k, v)
	}
	port := testenv.FreePorts(t, 2)
	t.Setenv("METRICS_ADDR", fmt.Sprintf("127.0.0.1:%d", port))
	t.Setenv("HEALTH_ADDR", fmt.Sprintf("127.0.0.1:%d", port+1))
	t.Setenv("POD_NAMESPACE", "default")
	cfg, err := app.ConfigFromEnv()
	if err != nil {
		t.Fatal(err)
	}
	if have := strings.Join(cfg.Services, ","); have != strings.Join(catalog.Acknowledging(), ",") {
		t.Fatalf("the chart's default required services are %s, the catalogue's %v", have, catalog.Acknowledging())
	}

	// Every catalogued service, each knowing the others' URLs.
	issuer, err := devauth.LoadOrCreate(filepath.Join(t.TempDir(), "dev.pem"))
	if err != nil {
		t.Fatal(err)
	}
	addrs := map[string]string{}
	var peers []string
	for _, name := range catalog.Names() {
		addrs[name] = fmt.Sprintf("127.0.0.1:%d", testenv.FreePorts(t, 1))
		peers = append(peers, httpkit.PeerVar(name)+"=http://"+addrs[name])
	}
	for _, name := range catalog.Names() {
		testenv.StartService(t, name, addrs[name], brokers, issuer.PublicKeyPEM(), peers...)
	}

	ctx, cancel := context.WithCancel(context.Background())
	a, err := app.New(ctx, cfg, rc, slog.New(slog.NewTextHandler(io.Discard, nil)))
	if err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- a.Run(ctx) }()
	t.Cleanup(func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("operator: %v", err)
		}
	})

	if err := c.Create(context.Background(), tenant("acme-sales", "ru-central-1")); err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(time.Minute)
	for {
		var tn crmv1alpha1.Tenant
		err := c.Get(context.Background(), client.ObjectKey{Name: "acme-sales"}, &tn)
		ready := meta.FindStatusCondition(tn.Status.Conditions, "Ready")
		if err == nil && ready != nil && ready.Status == metav1.ConditionTrue && ready.ObservedGeneration == tn.Generation {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("the Tenant is not Ready after a minute: %v %+v", err, tn.Status)
		}
		time.Sleep(100 * time.Millisecond)
	}
}
