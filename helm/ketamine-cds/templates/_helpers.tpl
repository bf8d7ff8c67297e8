{{/* The chart name, cut to 63 characters (a DNS label). */}}
{{- define "ketamine-cds.name" -}}
{{- default .Chart.Name .Values.nameOverride | trunc 63 | trimSuffix "-" }}
{{- end }}

{{/* The release's full name, cut to 63 characters; the release name alone when it already holds the chart's. */}}
{{- define "ketamine-cds.fullname" -}}
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

{{- define "ketamine-cds.chart" -}}
{{- printf "%s-%s" .Chart.Name .Chart.Version | replace "+" "_" | trunc 63 | trimSuffix "-" }}
{{- end }}

{{- define "ketamine-cds.selectorLabels" -}}
app.kubernetes.io/name: {{ include "ketamine-cds.name" . }}
app.kubernetes.io/instance: {{ .Release.Name }}
{{- end }}

{{- define "ketamine-cds.labels" -}}
helm.sh/chart: {{ include "ketamine-cds.chart" . }}
{{ include "ketamine-cds.selectorLabels" . }}
app.kubernetes.io/version: {{ .Chart.AppVersion | quote }}
app.kubernetes.io/managed-by: {{ .Release.Service }}
{{- end }}

{{/* Labels of the `helm test` pod, which the NetworkPolicy lets in. */}}
{{- define "ketamine-cds.testLabels" -}}
app.kubernetes.io/name: {{ include "ketamine-cds.name" . }}-test
app.kubernetes.io/instance: {{ .Release.Name }}
app.kubernetes.io/component: helm-test
{{- end }}

{{- define "ketamine-cds.serviceAccountName" -}}
{{- if .Values.serviceAccount.create }}
{{- default (include "ketamine-cds.fullname" .) .Values.serviceAccount.name }}
{{- else }}
{{- default "default" .Values.serviceAccount.name }}
{{- end }}
{{- end }}

{{- define "ketamine-cds.image" -}}
{{- printf "%s:%s" .Values.image.repository (default .Chart.AppVersion .Values.image.tag) }}
{{- end }}

{{/* The address EHRs call: auth.publicBaseUrl, else https://<ingress.host> when the ingress is on. */}}
{{- define "ketamine-cds.publicBaseUrl" -}}
{{- if .Values.auth.publicBaseUrl }}
{{- .Values.auth.publicBaseUrl | trimSuffix "/" }}
{{- else if and .Values.ingress.enabled .Values.ingress.host }}
{{- printf "https://%s" .Values.ingress.host }}
{{- end }}
{{- end }}

{{/* Whether a ConfigMap is needed: trusted issuers (auth on) or site overrides. */}}
{{- define "ketamine-cds.hasConfig" -}}
{{- if or .Values.auth.enabled .Values.knowledge.siteOverrides }}true{{ end }}
{{- end }}

{{/* The pod and container security settings shared by the service and the test pod. */}}
{{- define "ketamine-cds.podSecurityContext" -}}
runAsNonRoot: true
{{- with .Values.podSecurityContext.runAsUser }}
runAsUser: {{ . }}
{{- end }}
{{- with .Values.podSecurityContext.runAsGroup }}
runAsGroup: {{ . }}
{{- end }}
{{- with .Values.podSecurityContext.fsGroup }}
fsGroup: {{ . }}
{{- end }}
seccompProfile:
  type: RuntimeDefault
{{- end }}

{{- define "ketamine-cds.containerSecurityContext" -}}
allowPrivilegeEscalation: false
readOnlyRootFilesystem: true
runAsNonRoot: true
privileged: false
capabilities:
  drop: ["ALL"]
seccompProfile:
  type: RuntimeDefault
{{- end }}

{{/* Refuse values that would deploy a service nobody should run. First the Secrets the chart names but never
holds, all in one sentence with the commands that create them: what an install with the defaults lacks. */}}
{{- define "ketamine-cds.validate" -}}
{{- $ns := .Release.Namespace }}
{{- $missing := list }}
{{- if empty .Values.patientHashKey.existingSecret }}
{{- $missing = append $missing (printf "the patient hash key (kubectl -n %s create secret generic ketamine-cds-patient-hash --from-literal=%s=\"$(openssl rand -hex 32)\", then --set patientHashKey.existingSecret=ketamine-cds-patient-hash)" $ns .Values.patientHashKey.secretKey) }}
{{- end }}
{{- if empty .Values.database.existingSecret }}
{{- $missing = append $missing (printf "the PostgreSQL URL (kubectl -n %s create secret generic ketamine-cds-database --from-literal=%s='postgresql://user:password@host/db', then --set database.existingSecret=ketamine-cds-database)" $ns .Values.database.secretKey) }}
{{- end }}
{{- $scaled := or .Values.autoscaling.enabled (gt (int .Values.replicaCount) 1) (gt (int .Values.server.workers) 1) }}
{{- if and .Values.auth.enabled (empty .Values.redis.existingSecret) $scaled }}
{{- $missing = append $missing (printf "the Redis URL, since with auth on and more than one pod or worker used token ids must be shared so a replayed token is refused everywhere (kubectl -n %s create secret generic ketamine-cds-redis --from-literal=%s='redis://host:6379/0', then --set redis.existingSecret=ketamine-cds-redis; or run one replica with server.workers=1 and autoscaling.enabled=false)" $ns .Values.redis.secretKey) }}
{{- end }}
{{- if and .Values.console.enabled (empty .Values.console.existingSecret) }}
{{- $missing = append $missing (printf "the console's own credential, since the console is enabled (kubectl -n %s create secret generic ketamine-cds-console --from-literal=%s=\"$(openssl rand -hex 32)\", then --set console.existingSecret=ketamine-cds-console)" $ns .Values.console.secretKey) }}
{{- end }}
{{- if $missing }}
{{- fail (printf "Create the Secrets this chart names but never holds, and name them in the values: %s." (join "; " $missing)) }}
{{- end }}
{{- if and .Values.auth.enabled (empty .Values.auth.trustedIssuers) }}
{{- fail "auth.trustedIssuers is empty: list the EHRs allowed to call (iss, and jwks_url or jwks), or set auth.enabled=false to run without authentication (test systems only)" }}
{{- end }}
{{- if and .Values.auth.enabled (empty (include "ketamine-cds.publicBaseUrl" .)) }}
{{- fail "auth.publicBaseUrl is empty: name the URL EHRs call (the audience their JWTs must name), or turn the ingress on with a host" }}
{{- end }}
{{- if and .Values.ingress.enabled (empty .Values.ingress.host) }}
{{- fail "ingress.host is empty: name the host EHRs call, or set ingress.enabled=false" }}
{{- end }}
{{- if and .Values.ingress.enabled .Values.ingress.tls.enabled (empty .Values.ingress.tls.secretName) }}
{{- fail "ingress.tls.secretName is empty: name the Secret holding the certificate, or set ingress.tls.enabled=false" }}
{{- end }}
{{- if and .Values.autoscaling.enabled (gt (int .Values.autoscaling.minReplicas) (int .Values.autoscaling.maxReplicas)) }}
{{- fail "autoscaling.minReplicas is greater than autoscaling.maxReplicas" }}
{{- end }}
{{- end }}
