{{/*
Names and labels. Every helper takes the podcache chart's scope: `.` inside this chart, and
`.Subcharts.podcache` in a parent chart that depends on podcache.
*/}}

{{/* The chart name (app.kubernetes.io/name). */}}
{{- define "podcache.name" -}}
{{- default .Chart.Name .Values.nameOverride | trunc 63 | trimSuffix "-" }}
{{- end }}

{{/* The resource name prefix: <release>-podcache, or the release name when it contains the chart name. */}}
{{- define "podcache.fullname" -}}
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

{{/* name-version, for the helm.sh/chart label. */}}
{{- define "podcache.chart" -}}
{{- printf "%s-%s" .Chart.Name .Chart.Version | replace "+" "_" | trunc 63 | trimSuffix "-" }}
{{- end }}

{{/* Standard labels of every resource. */}}
{{- define "podcache.labels" -}}
helm.sh/chart: {{ include "podcache.chart" . }}
{{ include "podcache.selectorLabels" . }}
app.kubernetes.io/version: {{ .Chart.AppVersion | quote }}
app.kubernetes.io/managed-by: {{ .Release.Service }}
app.kubernetes.io/part-of: podcache
{{- with .Values.commonLabels }}
{{ toYaml . }}
{{- end }}
{{- end }}

{{/* Selector labels of the chart's own workloads. */}}
{{- define "podcache.selectorLabels" -}}
app.kubernetes.io/name: {{ include "podcache.name" . }}
app.kubernetes.io/instance: {{ .Release.Name }}
{{- end }}

{{/*
The label that makes a pod a member of this cache cluster: the headless Service, the
NetworkPolicy and the PodDisruptionBudget select it. Put it on every pod that runs the sidecar.
*/}}
{{- define "podcache.memberLabels" -}}
podcache.io/cluster: {{ include "podcache.fullname" . }}
{{- end }}

{{/* The headless Service whose EndpointSlices are the peers. */}}
{{- define "podcache.serviceName" -}}
{{- include "podcache.fullname" . }}
{{- end }}

{{/* The ConfigMap with podcache.yaml. */}}
{{- define "podcache.configMapName" -}}
{{- printf "%s-config" (include "podcache.fullname" .) }}
{{- end }}

{{/* The Secret with tls.crt, tls.key and ca.crt. */}}
{{- define "podcache.tlsSecretName" -}}
{{- if eq .Values.tls.source "existingSecret" }}
{{- .Values.tls.existingSecret }}
{{- else }}
{{- printf "%s-tls" (include "podcache.fullname" .) }}
{{- end }}
{{- end }}

{{/* The ServiceAccount the member pods run as (the RoleBinding binds it). */}}
{{- define "podcache.serviceAccountName" -}}
{{- if .Values.serviceAccount.create }}
{{- default (include "podcache.fullname" .) .Values.serviceAccount.name }}
{{- else }}
{{- .Values.serviceAccount.name }}
{{- end }}
{{- end }}

{{/* The sidecar image reference: repository@digest, or repository:tag (tag defaults to appVersion). */}}
{{- define "podcache.image" -}}
{{- if .Values.image.digest }}
{{- printf "%s@%s" .Values.image.repository .Values.image.digest }}
{{- else }}
{{- printf "%s:%s" .Values.image.repository (default .Chart.AppVersion .Values.image.tag) }}
{{- end }}
{{- end }}

{{/* True (non-empty) when the sidecar watches EndpointSlices and so needs a token and RBAC. */}}
{{- define "podcache.usesKubernetesApi" -}}
{{- if eq .Values.discovery.mode "kubernetes" }}true{{ end }}
{{- end }}

{{/* Where the sidecar's own service-account token is mounted (not the app's default path). */}}
{{- define "podcache.serviceAccountDir" -}}
/var/run/secrets/podcache/serviceaccount
{{- end }}

{{/* Where the podcache.yaml ConfigMap is mounted. */}}
{{- define "podcache.configDir" -}}
/etc/podcache/config
{{- end }}

{{/* Where the NATS credentials file is mounted. */}}
{{- define "podcache.natsDir" -}}
/etc/podcache/nats
{{- end }}

{{/* The DNS discovery name: discovery.dns.name, or the headless Service's SRV name for port "peer". */}}
{{- define "podcache.dnsName" -}}
{{- if .Values.discovery.dns.name }}
{{- .Values.discovery.dns.name }}
{{- else }}
{{- printf "_peer._tcp.%s.%s.svc.%s" (include "podcache.serviceName" .) .Release.Namespace .Values.clusterDomain }}
{{- end }}
{{- end }}
