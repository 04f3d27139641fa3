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
