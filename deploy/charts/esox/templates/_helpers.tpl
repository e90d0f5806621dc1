{{/* Name of the chart's objects. */}}
{{- define "esox.name" -}}
{{- default .Chart.Name .Values.nameOverride | trunc 63 | trimSuffix "-" }}
{{- end }}

{{- define "esox.fullname" -}}
{{- if .Values.fullnameOverride }}
{{- .Values.fullnameOverride | trunc 63 | trimSuffix "-" }}
{{- else if contains (include "esox.name" .) .Release.Name }}
{{- .Release.Name | trunc 63 | trimSuffix "-" }}
{{- else }}
{{- printf "%s-%s" .Release.Name (include "esox.name" .) | trunc 63 | trimSuffix "-" }}
{{- end }}
{{- end }}

{{- define "esox.selectorLabels" -}}
app.kubernetes.io/name: {{ include "esox.name" . }}
app.kubernetes.io/instance: {{ .Release.Name }}
{{- end }}

{{- define "esox.labels" -}}
helm.sh/chart: {{ printf "%s-%s" .Chart.Name .Chart.Version | replace "+" "_" }}
{{ include "esox.selectorLabels" . }}
app.kubernetes.io/version: {{ .Values.image.tag | default .Chart.AppVersion | quote }}
app.kubernetes.io/managed-by: {{ .Release.Service }}
{{- end }}

{{- define "esox.serviceAccountName" -}}
{{- if .Values.serviceAccount.create }}
{{- default (include "esox.fullname" .) .Values.serviceAccount.name }}
{{- else }}
{{- default "default" .Values.serviceAccount.name }}
{{- end }}
{{- end }}

{{/* Whether esox serves one namespace only. */}}
{{- define "esox.scoped" -}}
{{- if .Values.scopedNamespace }}true{{ end }}
{{- end }}

{{/* Whether a cluster-scoped kind is served: never in scoped mode (esox turns them off itself). */}}
{{- define "esox.clusterStores" -}}
{{- if and (not .Values.scopedNamespace) .Values.processClusterStore }}true{{ end }}
{{- end }}
{{- define "esox.clusterExternalSecrets" -}}
{{- if and (not .Values.scopedNamespace) .Values.processClusterExternalSecret }}true{{ end }}
{{- end }}
{{- define "esox.clusterPushSecrets" -}}
{{- if and (not .Values.scopedNamespace) .Values.processClusterPushSecret }}true{{ end }}
{{- end }}
