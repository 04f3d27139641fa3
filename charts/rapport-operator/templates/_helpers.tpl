{{/*
The chart's name, overridable by nameOverride.
*/}}
{{- define "rapport-operator.name" -}}
{{- default .Chart.Name .Values.nameOverride | trunc 63 | trimSuffix "-" }}
{{- end }}

{{/*
The full name of the release's resources: the release name when it already
contains the chart name, release-chart otherwise; DNS labels stop at 63.
*/}}
{{- define "rapport-operator.fullname" -}}
{{- if .Values.fullnameOverride }}
{{- .Values.fullnameOverride | trunc 63 | trimSuffix "-" }}
{{- else }}
{{- $name := default .Chart.Name .Values.nameOverride }}
{{- if contains $name .Release.Name }}
{{- .Release.Name | trunc 63 | trimSuffix "-" }}
{{- else }}
{{- printf "%s-%s" .Release.Name $name | trunc 63 | trimSuffix "-" }}
{{- end }}
{{- end }}
{{- end }}

{{/*
chart-version, as the helm.sh/chart label wants it.
*/}}
{{- define "rapport-operator.chart" -}}
{{- printf "%s-%s" .Chart.Name .Chart.Version | replace "+" "_" | trunc 63 | trimSuffix "-" }}
{{- end }}

{{/*
Labels on every object of the release.
*/}}
{{- define "rapport-operator.labels" -}}
helm.sh/chart: {{ include "rapport-operator.chart" . }}
{{ include "rapport-operator.selectorLabels" . }}
app.kubernetes.io/version: {{ .Chart.AppVersion | quote }}
app.kubernetes.io/component: operator
app.kubernetes.io/part-of: rapport
app.kubernetes.io/managed-by: {{ .Release.Service }}
{{- end }}

{{/*
Labels that select the operator's Pods; immutable once installed.
*/}}
{{- define "rapport-operator.selectorLabels" -}}
app.kubernetes.io/name: {{ include "rapport-operator.name" . }}
app.kubernetes.io/instance: {{ .Release.Name }}
{{- end }}

{{/*
The ServiceAccount the operator runs as.
*/}}
{{- define "rapport-operator.serviceAccountName" -}}
{{- if .Values.serviceAccount.create }}
{{- default (include "rapport-operator.fullname" .) .Values.serviceAccount.name }}
{{- else }}
{{- required "serviceAccount.name is required when serviceAccount.create is false" .Values.serviceAccount.name }}
{{- end }}
{{- end }}

{{/*
The release's ClusterRole: cluster-wide, so named per release. Its rules are
the ones controller-gen generates into rbac/role.yaml (make crd).
*/}}
{{- define "rapport-operator.clusterRoleName" -}}
{{- include "rapport-operator.fullname" . }}
{{- end }}

{{/*
The operator's image, tagged with the chart's appVersion unless told otherwise.
*/}}
{{- define "rapport-operator.image" -}}
{{- printf "%s:%s" .Values.image.repository (default .Chart.AppVersion .Values.image.tag) }}
{{- end }}

{{/*
The region this installation serves (or the parent chart's global.region);
rendering stops without it.
*/}}
{{- define "rapport-operator.region" -}}
{{- required "region is required: the region this installation serves, e.g. ru-central-1 (--set region=ru-central-1)" (.Values.region | default (dig "region" "" (.Values.global | default dict))) }}
{{- end }}

{{/*
The Kafka bootstrap brokers (or the parent chart's global.kafka.brokers),
comma-separated; rendering stops without any.
*/}}
{{- define "rapport-operator.kafkaBrokers" -}}
{{- $brokers := (.Values.kafka | default dict).brokers | default (dig "kafka" "brokers" list (.Values.global | default dict)) }}
{{- if empty $brokers }}
{{- fail "kafka.brokers is required: the Kafka bootstrap brokers as host:port, e.g. --set kafka.brokers={kafka-0.kafka:9092}" }}
{{- end }}
{{- join "," $brokers }}
{{- end }}

{{/*
Kafka's TLS and SASL settings: this chart's kafka.tls and kafka.sasl, else
the parent chart's global.kafka ones.
*/}}
{{- define "rapport-operator.kafkaSecurity" -}}
{{- $global := dig "kafka" dict (.Values.global | default dict) }}
{{- $own := .Values.kafka | default dict }}
{{- toJson (dict "tls" ($own.tls | default $global.tls | default dict) "sasl" ($own.sasl | default $global.sasl | default dict)) }}
{{- end }}

{{/*
Kafka's TLS and SASL settings as environment (pkg/kafkaconn reads them).
*/}}
{{- define "rapport-operator.kafkaSecurityEnv" -}}
{{- $k := include "rapport-operator.kafkaSecurity" . | fromJson }}
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
      name: {{ required "kafka.sasl.existingSecret is required with kafka.sasl.mechanism" $k.sasl.existingSecret | quote }}
      key: username
- name: KAFKA_SASL_PASSWORD
  valueFrom:
    secretKeyRef:
      name: {{ $k.sasl.existingSecret | quote }}
      key: password
{{- end }}
{{- end }}

{{/*
The Secrets Kafka's TLS reads: volumes, and their mounts.
*/}}
{{- define "rapport-operator.kafkaVolumes" -}}
{{- $tls := (include "rapport-operator.kafkaSecurity" . | fromJson).tls }}
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

{{- define "rapport-operator.kafkaVolumeMounts" -}}
{{- $tls := (include "rapport-operator.kafkaSecurity" . | fromJson).tls }}
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
