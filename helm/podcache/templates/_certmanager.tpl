{{/* True (non-empty) when the chart creates its own self-signed CA for cert-manager. */}}
{{- define "podcache.certManagerOwnCa" -}}
{{- if and (eq .Values.tls.source "certManager") (not .Values.tls.insecure) (not .Values.tls.certManager.issuerRef.name) }}true{{ end }}
{{- end }}
