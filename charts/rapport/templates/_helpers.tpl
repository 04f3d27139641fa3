{{/*
The release's name prefix for every object: the release name when it
already says rapport, release-rapport otherwise; DNS labels stop at 63.
*/}}
{{- define "rapport.fullname" -}}
{{- if contains .Chart.Name .Release.Name }}
{{- .Release.Name | trunc 40 | trimSuffix "-" }}
{{- else }}
{{- printf "%s-%s" .Release.Name .Chart.Name | trunc 40 | trimSuffix "-" }}
{{- end }}
{{- end }}

{{/*
The object name of a component (gateway, contacts, …).
*/}}
{{- define "rapport.componentName" -}}
{{- printf "%s-%s" (include "rapport.fullname" .root) .name | trunc 63 | trimSuffix "-" }}
{{- end }}

{{/*
Labels that select a component's Pods; immutable once installed.
*/}}
{{- define "rapport.selectorLabels" -}}
app.kubernetes.io/name: rapport-{{ .name }}
app.kubernetes.io/instance: {{ .root.Release.Name }}
{{- end }}

{{/*
Labels on every object of a component.
*/}}
{{- define "rapport.labels" -}}
helm.sh/chart: {{ printf "%s-%s" .root.Chart.Name .root.Chart.Version | replace "+" "_" | trunc 63 | trimSuffix "-" }}
{{ include "rapport.selectorLabels" . }}
app.kubernetes.io/component: {{ .name }}
app.kubernetes.io/version: {{ .root.Chart.AppVersion | quote }}
app.kubernetes.io/part-of: rapport
app.kubernetes.io/managed-by: {{ .root.Release.Service }}
{{- end }}

{{/*
A component's image: <registry>/rapport-<name>:<tag>.
*/}}
{{- define "rapport.image" -}}
{{- printf "%s/rapport-%s:%s" .root.Values.image.registry .name (default .root.Chart.AppVersion .root.Values.image.tag) }}
{{- end }}

{{/*
The components to render, as a list of {name, root, spec, service}: the
gateway, then every enabled service in name order. spec is the component's
values over componentDefaults.
*/}}
{{- define "rapport.components" -}}
{{- $root := . }}
{{- $list := list }}
{{- $gw := mergeOverwrite (deepCopy .Values.componentDefaults) (deepCopy .Values.gateway) }}
{{- $list = append $list (dict "name" "gateway" "spec" $gw "service" false) }}
{{- range $name := keys .Values.services | sortAlpha }}
{{- $svc := index $root.Values.services $name }}
{{- if $svc.enabled }}
{{- $spec := mergeOverwrite (deepCopy $root.Values.componentDefaults) (deepCopy $svc) }}
{{- $list = append $list (dict "name" $name "spec" $spec "service" true) }}
{{- end }}
{{- end }}
{{- toJson $list }}
{{- end }}

{{/*
The Kafka bootstrap brokers, comma-separated; rendering stops without any.
*/}}
{{- define "rapport.kafkaBrokers" -}}
{{- if empty .Values.global.kafka.brokers }}
{{- fail "global.kafka.brokers is required: the Kafka bootstrap brokers as host:port, e.g. --set global.kafka.brokers={kafka-0.kafka:9092}" }}
{{- end }}
{{- join "," .Values.global.kafka.brokers }}
{{- end }}

{{/*
The OIDC provider's JWKS URL; rendering stops without it.
*/}}
{{- define "rapport.jwksURL" -}}
{{- required "auth.jwksURL is required: the OIDC provider's JWKS URL, e.g. https://id.example.com/.well-known/jwks.json" .Values.auth.jwksURL }}
{{- end }}

{{/*
The environment every component shares: Kafka, token verification,
telemetry and logging.
*/}}
{{- define "rapport.commonEnv" -}}
- name: KAFKA_BROKERS
  value: {{ include "rapport.kafkaBrokers" .root | quote }}
{{- include "rapport.kafkaSecurityEnv" . }}
- name: AUTH_JWKS_URL
  value: {{ include "rapport.jwksURL" .root | quote }}
- name: AUTH_ISSUER
  value: {{ required "auth.issuer is required: the iss your OIDC provider puts in tokens, e.g. https://id.example.com/realms/acme" .root.Values.auth.issuer | quote }}
- name: AUTH_AUDIENCE
  value: {{ required "auth.audience is required: the aud tokens for Rapport carry, e.g. rapport" .root.Values.auth.audience | quote }}
- name: LOG_LEVEL
  value: {{ .root.Values.logLevel | quote }}
- name: OTEL_SERVICE_NAME
  value: rapport-{{ .name }}
{{- with .root.Values.otel.endpoint }}
- name: OTEL_EXPORTER_OTLP_ENDPOINT
  value: {{ . | quote }}
- name: OTEL_EXPORTER_OTLP_PROTOCOL
  value: {{ $.root.Values.otel.protocol | quote }}
{{- end }}
# The Go runtime keeps the heap under the container's memory limit.
- name: GOMEMLIMIT
  valueFrom:
    resourceFieldRef:
      resource: limits.memory
{{- end }}

{{/*
The Secret key reference of a service's database URL (key: appURLKey or
migrateURLKey); rendering stops without the Secret's name.
*/}}
{{- define "rapport.databaseURL" -}}
valueFrom:
  secretKeyRef:
    name: {{ required (printf "services.%s.database.existingSecret is required: the Secret with the %s service's PostgreSQL URLs" .name .name) .spec.database.existingSecret | quote }}
    key: {{ index .spec.database .key | quote }}
{{- end }}

{{/*
Pod and container security: non-root, read-only root, nothing extra.
*/}}
{{- define "rapport.podSecurityContext" -}}
runAsNonRoot: true
runAsUser: 65532
runAsGroup: 65532
fsGroup: 65532
seccompProfile:
  type: RuntimeDefault
{{- end }}

{{- define "rapport.securityContext" -}}
runAsNonRoot: true
readOnlyRootFilesystem: true
allowPrivilegeEscalation: false
capabilities:
  drop:
    - ALL
seccompProfile:
  type: RuntimeDefault
{{- end }}

{{/*
Kafka's TLS and SASL settings as environment (pkg/kafkaconn reads them).
*/}}
{{- define "rapport.kafkaSecurityEnv" -}}
{{- $k := .root.Values.global.kafka }}
{{- if $k.tls.enabled }}
- name: KAFKA_TLS
  value: "true"
{{- if $k.tls.caSecret }}
- name: KAFKA_TLS_CA_FILE
  value: /etc/rapport/kafka/ca/ca.crt
{{- end }}
{{- if $k.tls.clientSecret }}
- name: KAFKA_TLS_CERT_FILE
  value: /etc/rapport/kafka/client/tls.crt
- name: KAFKA_TLS_KEY_FILE
  value: /etc/rapport/kafka/client/tls.key
{{- end }}
{{- with $k.tls.serverName }}
- name: KAFKA_TLS_SERVER_NAME
  value: {{ . | quote }}
{{- end }}
{{- end }}
{{- if $k.sasl.mechanism }}
- name: KAFKA_SASL_MECHANISM
  value: {{ $k.sasl.mechanism | quote }}
- name: KAFKA_SASL_USERNAME
  valueFrom:
    secretKeyRef:
      name: {{ $k.sasl.existingSecret | quote }}
      key: username
- name: KAFKA_SASL_PASSWORD
  valueFrom:
    secretKeyRef:
      name: {{ $k.sasl.existingSecret | quote }}
      key: password
{{- end }}
{{- end }}

{{/*
The Secrets Kafka's TLS reads, as volumes and as their mounts.
*/}}
{{- define "rapport.kafkaVolumes" -}}
{{- $tls := .root.Values.global.kafka.tls }}
{{- if and $tls.enabled $tls.caSecret }}
- name: kafka-ca
  secret:
    secretName: {{ $tls.caSecret | quote }}
    items:
      - key: ca.crt
        path: ca.crt
{{- end }}
{{- if and $tls.enabled $tls.clientSecret }}
- name: kafka-client
  secret:
    secretName: {{ $tls.clientSecret | quote }}
{{- end }}
{{- end }}

{{- define "rapport.kafkaVolumeMounts" -}}
{{- $tls := .root.Values.global.kafka.tls }}
{{- if and $tls.enabled $tls.caSecret }}
- name: kafka-ca
  mountPath: /etc/rapport/kafka/ca
  readOnly: true
{{- end }}
{{- if and $tls.enabled $tls.clientSecret }}
- name: kafka-client
  mountPath: /etc/rapport/kafka/client
  readOnly: true
{{- end }}
{{- end }}

{{/*
The gateway's web sign-in (WEB_* variables, services/gateway/README.md):
nothing without an issuer; with one, the public URL, the client and the
session keys are required.
*/}}
{{- define "rapport.webEnv" -}}
{{- $web := . | default dict -}}
{{- $oidc := $web.oidc | default dict -}}
{{- $session := $web.session | default dict -}}
{{- if $oidc.issuer -}}
{{- if not $web.publicURL }}{{ fail "gateway.web.publicURL is required with gateway.web.oidc.issuer: the provider sends browsers back to <publicURL>/auth/callback" }}{{ end -}}
{{- if not $oidc.clientID }}{{ fail "gateway.web.oidc.clientID is required with gateway.web.oidc.issuer" }}{{ end -}}
{{- if not $session.existingSecret }}{{ fail "gateway.web.session.existingSecret is required with gateway.web.oidc.issuer: a Secret with the session keys (openssl rand -base64 32)" }}{{ end -}}
- name: WEB_PUBLIC_URL
  value: {{ trimSuffix "/" $web.publicURL | quote }}
- name: WEB_OIDC_ISSUER
  value: {{ $oidc.issuer | quote }}
- name: WEB_OIDC_CLIENT_ID
  value: {{ $oidc.clientID | quote }}
{{- with $oidc.clientSecretName }}
- name: WEB_OIDC_CLIENT_SECRET
  valueFrom:
    secretKeyRef:
      name: {{ . }}
      key: {{ $oidc.clientSecretKey }}
{{- end }}
{{- with $oidc.scopes }}
- name: WEB_OIDC_SCOPES
  value: {{ join " " . | quote }}
{{- end }}
- name: WEB_SESSION_KEYS
  valueFrom:
    secretKeyRef:
      name: {{ $session.existingSecret }}
      key: {{ $session.key }}
{{- with $session.ttl }}
- name: WEB_SESSION_TTL
  value: {{ . | quote }}
{{- end }}
{{- end -}}
{{- end -}}
