{{/* The chart's name, or nameOverride. */}}
{{- define "elbow.name" -}}
{{- default .Chart.Name .Values.nameOverride | trunc 63 | trimSuffix "-" -}}
{{- end -}}

{{/* The release's full name: fullnameOverride, the release name when it
contains the chart's name, else RELEASE-NAME. */}}
{{- define "elbow.fullname" -}}
{{- if .Values.fullnameOverride -}}
{{- .Values.fullnameOverride | trunc 63 | trimSuffix "-" -}}
{{- else -}}
{{- $name := default .Chart.Name .Values.nameOverride -}}
{{- if contains $name .Release.Name -}}
{{- .Release.Name | trunc 63 | trimSuffix "-" -}}
{{- else -}}
{{- printf "%s-%s" .Release.Name $name | trunc 63 | trimSuffix "-" -}}
{{- end -}}
{{- end -}}
{{- end -}}

{{- define "elbow.chart" -}}
{{- printf "%s-%s" .Chart.Name .Chart.Version | replace "+" "_" | trunc 63 | trimSuffix "-" -}}
{{- end -}}

{{- define "elbow.selectorLabels" -}}
app.kubernetes.io/name: {{ include "elbow.name" . }}
app.kubernetes.io/instance: {{ .Release.Name }}
{{- end -}}

{{- define "elbow.labels" -}}
{{ include "elbow.selectorLabels" . }}
app.kubernetes.io/version: {{ .Chart.AppVersion | quote }}
{{- if eq (default "helm" .Values.creator) "helm" }}
app.kubernetes.io/managed-by: {{ .Release.Service }}
helm.sh/chart: {{ include "elbow.chart" . }}
{{- end }}
{{- with .Values.additionalLabels }}
{{ toYaml . }}
{{- end }}
{{- end -}}

{{- define "elbow.serviceAccountName" -}}
{{- if .Values.serviceAccount.create -}}
{{- default (include "elbow.fullname" .) .Values.serviceAccount.name -}}
{{- else -}}
{{- default "default" .Values.serviceAccount.name -}}
{{- end -}}
{{- end -}}

{{- define "elbow.webhookService" -}}
{{- printf "%s-webhook-service" (include "elbow.fullname" .) | trunc 63 | trimSuffix "-" -}}
{{- end -}}

{{- define "elbow.webhookCertSecret" -}}
{{- printf "%s-tls" (include "elbow.fullname" .) -}}
{{- end -}}

{{- define "elbow.webhookConfiguration" -}}
{{- printf "%s-webhook" (include "elbow.fullname" .) -}}
{{- end -}}

{{- define "elbow.certificateName" -}}
{{- printf "%s-serving-cert" (include "elbow.fullname" .) -}}
{{- end -}}

{{- define "elbow.ingressClassParamsName" -}}
{{- default .Values.ingressClass .Values.ingressClassParams.name -}}
{{- end -}}

{{/* The leader election Lease, the reference controller's (one leader
across both while migrating). Stated once, in elbow's flags' default. */}}
{{- define "elbow.leaderElectionID" -}}
aws-load-balancer-controller-leader
{{- end -}}

{{/* "k1=v1,k2=v2" of a map, keys sorted. */}}
{{- define "elbow.csv" -}}
{{- $parts := list -}}
{{- range $k, $v := . -}}
{{- $parts = append $parts (printf "%s=%v" $k $v) -}}
{{- end -}}
{{- join "," $parts -}}
{{- end -}}

{{/* The webhook TLS material, base64: webhookTLS when given, the previous
release's Secret with keepTLSSecret, else a new CA and certificate for the
webhook Service's names. */}}
{{- define "elbow.webhookCerts" -}}
{{- $svc := include "elbow.webhookService" . -}}
{{- $secret := lookup "v1" "Secret" .Release.Namespace (include "elbow.webhookCertSecret" .) -}}
{{- if and .Values.webhookTLS.caCert .Values.webhookTLS.cert .Values.webhookTLS.key -}}
caCert: {{ .Values.webhookTLS.caCert | b64enc }}
cert: {{ .Values.webhookTLS.cert | b64enc }}
key: {{ .Values.webhookTLS.key | b64enc }}
{{- else if and .Values.keepTLSSecret $secret -}}
caCert: {{ index $secret.data "ca.crt" }}
cert: {{ index $secret.data "tls.crt" }}
key: {{ index $secret.data "tls.key" }}
{{- else -}}
{{- $names := list (printf "%s.%s" $svc .Release.Namespace) (printf "%s.%s.svc" $svc .Release.Namespace) (printf "%s.%s.svc.%s" $svc .Release.Namespace .Values.cluster.dnsDomain) -}}
{{- $ca := genCA "elbow-webhook-ca" 3650 -}}
{{- $cert := genSignedCert (printf "%s.%s.svc" $svc .Release.Namespace) nil $names 3650 $ca -}}
caCert: {{ $ca.Cert | b64enc }}
cert: {{ $cert.Cert | b64enc }}
key: {{ $cert.Key | b64enc }}
{{- end -}}
{{- end -}}

{{/* Values of the reference chart elbow refuses: each names what to do
instead (docs/install.md). */}}
{{- define "elbow.refuse" -}}
{{- if contains "aws-load-balancer-controller" .Values.image.repository -}}
{{- fail (printf "image.repository %s is the AWS Load Balancer Controller's image; remove image from your values (elbow's is the default) or name elbow's image (make image, docs/install.md)" .Values.image.repository) -}}
{{- end -}}
{{- if .Values.vpcTags -}}
{{- fail "vpcTags: elbow does not look the VPC up by tags; set vpcId (or leave both empty: the VPC of the subnets tagged for the cluster)" -}}
{{- end -}}
{{- if .Values.certDiscovery.allowedCertificateAuthorityARNs -}}
{{- fail "certDiscovery.allowedCertificateAuthorityARNs: elbow's certificate discovery does not filter by certificate authority; name certificates with the certificate-arn annotation or IngressClassParams certificateArn instead" -}}
{{- end -}}
{{- if .Values.serviceTargetENISGTags -}}
{{- fail "serviceTargetENISGTags: elbow does not manage the security group rules of target ENIs; remove the value" -}}
{{- end -}}
{{- if and (kindIs "bool" .Values.enableEndpointSlices) (not .Values.enableEndpointSlices) -}}
{{- fail "enableEndpointSlices=false: elbow reads targets from EndpointSlices only; remove the value or set it to true" -}}
{{- end -}}
{{- end -}}

{{/* A webhook's clientConfig: the webhook Service at a path, with the CA
bundle unless cert-manager injects it. Takes root, tls and path. */}}
{{- define "elbow.webhookClient" -}}
service:
  name: {{ include "elbow.webhookService" .root }}
  namespace: {{ .root.Release.Namespace }}
  path: {{ .path }}
{{- if not .root.Values.enableCertManager }}
caBundle: {{ .tls.caCert }}
{{- end }}
{{- end }}
{{/* Leaves the chart's own objects out of a webhook, so that installing
the chart never waits for its own webhooks. */}}
{{- define "elbow.notSelf" -}}
- key: app.kubernetes.io/name
  operator: NotIn
  values:
    - {{ include "elbow.name" . }}
{{- end }}
