package app

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"sync/atomic"

	"github.com/go-logr/logr"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/client-go/rest"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/cache"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/config"
	"sigs.k8s.io/controller-runtime/pkg/event"
	"sigs.k8s.io/controller-runtime/pkg/healthz"
	"sigs.k8s.io/controller-runtime/pkg/manager"
	metricsserver "sigs.k8s.io/controller-runtime/pkg/metrics/server"

	"github.com/rapportcrm/rapport/pkg/tenancy"
	crmv1alpha1 "github.com/rapportcrm/rapport/services/operator/api/v1alpha1"
	"github.com/rapportcrm/rapport/services/operator/internal/controller"
	"github.com/rapportcrm/rapport/services/operator/internal/scheme"
)

// Name is the operator's name in telemetry and as the records' source.
const Name = "rapport-operator"

// LeaderElectionID names the Lease the replicas compete for.
const LeaderElectionID = "rapport-operator.crm.rapport.io"

// App is an assembled operator.
type App struct {
	Manager     manager.Manager
	provisioner *tenancy.Provisioner
}

// New builds the manager against the cluster at rc.
func New(ctx context.Context, cfg Config, rc *rest.Config, log *slog.Logger) (*App, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	ctrl.SetLogger(logr.FromSlogHandler(log.Handler()))
	if rc.QPS == 0 {
		// As ctrl.GetConfig does: the API server's priority and fairness
		// pace the operator, not client-go's default of 5 requests/s, which
		// would take minutes over hundreds of tenants.
		rc = rest.CopyConfig(rc)
		rc.QPS = -1
	}
	// The cache holds the operator's own namespaces and Secrets, not every
	// Secret of the cluster.
	own := labels.SelectorFromSet(labels.Set{controller.LabelManagedBy: controller.ManagedBy})
	mgr, err := ctrl.NewManager(rc, ctrl.Options{
		Scheme:                        scheme.New(),
		Metrics:                       metricsserver.Options{BindAddress: cfg.MetricsAddr},
		HealthProbeBindAddress:        cfg.HealthAddr,
		LeaderElection:                cfg.LeaderElect,
		LeaderElectionID:              LeaderElectionID,
		LeaderElectionNamespace:       cfg.LeaderElectionNamespace,
		LeaderElectionReleaseOnCancel: true,
		Controller:                    config.Controller{SkipNameValidation: &cfg.SkipNameValidation},
		Cache: cache.Options{ByObject: map[client.Object]cache.ByObject{
			&corev1.Secret{}:    {Label: own},
			&corev1.Namespace{}: {Label: own},
		}},
	})
	if err != nil {
		return nil, fmt.Errorf("manager: %w", err)
	}
	prov := tenancy.NewProvisioner(cfg.Brokers, "/rapport/operator")
	acks := controller.NewAcks()
	events := make(chan event.TypedGenericEvent[*crmv1alpha1.Tenant], 1024)
	r := &controller.TenantReconciler{
		Client: mgr.GetClient(), APIReader: mgr.GetAPIReader(),
		Region: cfg.Region, Services: cfg.Services, NamespacePrefix: cfg.NamespacePrefix,
		Publisher: prov, Acks: acks,
	}
	if err := r.SetupWithManager(ctx, mgr, events, cfg.Workers); err != nil {
		prov.Close()
		return nil, fmt.Errorf("controller: %w", err)
	}
	if err := mgr.Add(&controller.AckFollower{Brokers: cfg.Brokers, Acks: acks, Log: log, Events: events}); err != nil {
		prov.Close()
		return nil, err
	}
	if err := controller.RegisterMetrics(mgr.GetCache(), cfg.Region); err != nil {
		prov.Close()
		return nil, err
	}
	if err := mgr.AddHealthzCheck("ping", healthz.Ping); err != nil {
		prov.Close()
		return nil, err
	}
	// Ready once the informers have synced: every replica, leader or not.
	var synced atomic.Bool
	if err := mgr.Add(everyReplica(func(ctx context.Context) error {
		if mgr.GetCache().WaitForCacheSync(ctx) {
			synced.Store(true)
		}
		<-ctx.Done()
		return nil
	})); err != nil {
		prov.Close()
		return nil, err
	}
	if err := mgr.AddReadyzCheck("cache", func(*http.Request) error {
		if !synced.Load() {
			return errors.New("informer caches not synced yet")
		}
		return nil
	}); err != nil {
		prov.Close()
		return nil, err
	}
	return &App{Manager: mgr, provisioner: prov}, nil
}

// Run runs the manager until ctx ends.
func (a *App) Run(ctx context.Context) error {
	defer a.provisioner.Close()
	return a.Manager.Start(ctx)
}

// everyReplica runs on every replica, not only the leader: a standby is
// ready once its informers have synced, so a rollout can proceed.
type everyReplica func(ctx context.Context) error

func (f everyReplica) Start(ctx context.Context) error { return f(ctx) }
func (everyReplica) NeedLeaderElection() bool          { return false }
