{{/*
Unit arithmetic for the memory and grace-period rules. podcache's sizes are not Kubernetes
quantities: in podcache K, M and G are binary (like KiB), in Kubernetes they are decimal.
*/}}

{{/* Bytes of a podcache size (64MiB, 1GB, 512K, 1048576), as in sidecar/units.cc. */}}
{{- define "podcache.bytes" -}}
{{- $s := include "podcache.scalar" . | trim }}
{{- if not (regexMatch "^[0-9]+(\\.[0-9]+)?\\s*(B|KB|MB|GB|TB|KiB|MiB|GiB|TiB|K|M|G)?$" $s) }}
{{- fail (printf "%q is not a podcache size (use bytes or a unit: 512KiB, 64MiB, 1GiB, 1GB)" $s) }}
{{- end }}
{{- $num := regexReplaceAll "^([0-9.]+)\\s*([A-Za-z]*)$" $s "${1}" }}
{{- $unit := regexReplaceAll "^([0-9.]+)\\s*([A-Za-z]*)$" $s "${2}" }}
{{- $factors := dict "" 1 "B" 1 "KB" 1000 "MB" 1000000 "GB" 1000000000 "TB" 1000000000000 "KiB" 1024 "MiB" 1048576 "GiB" 1073741824 "TiB" 1099511627776 "K" 1024 "M" 1048576 "G" 1073741824 }}
{{- mulf (float64 $num) (index $factors $unit) | ceil | int64 }}
{{- end }}

{{/* Bytes of a Kubernetes memory quantity (512Mi, 1Gi, 1G, 1500M, 1073741824). */}}
{{- define "podcache.quantityBytes" -}}
{{- $s := include "podcache.scalar" . | trim }}
{{- if not (regexMatch "^[0-9]+(\\.[0-9]+)?(Ki|Mi|Gi|Ti|k|M|G|T)?$" $s) }}
{{- fail (printf "%q is not a Kubernetes memory quantity (e.g. 512Mi, 1Gi)" $s) }}
{{- end }}
{{- $num := regexReplaceAll "^([0-9.]+)([A-Za-z]*)$" $s "${1}" }}
{{- $unit := regexReplaceAll "^([0-9.]+)([A-Za-z]*)$" $s "${2}" }}
{{- $factors := dict "" 1 "k" 1000 "M" 1000000 "G" 1000000000 "T" 1000000000000 "Ki" 1024 "Mi" 1048576 "Gi" 1073741824 "Ti" 1099511627776 }}
{{- mulf (float64 $num) (index $factors $unit) | ceil | int64 }}
{{- end }}

{{/* Milliseconds of a podcache duration (250ms, 2s, 5m, 1h, 1d; a bare number is ms). */}}
{{- define "podcache.durationMs" -}}
{{- $s := include "podcache.scalar" . | trim }}
{{- if not (regexMatch "^[0-9]+(\\.[0-9]+)?(ms|s|m|h|d)?$" $s) }}
{{- fail (printf "%q is not a podcache duration (use a unit: 250ms, 2s, 5m, 1h)" $s) }}
{{- end }}
{{- $num := regexReplaceAll "^([0-9.]+)([a-z]*)$" $s "${1}" }}
{{- $unit := regexReplaceAll "^([0-9.]+)([a-z]*)$" $s "${2}" }}
{{- $factors := dict "" 1 "ms" 1 "s" 1000 "m" 60000 "h" 3600000 "d" 86400000 }}
{{- mulf (float64 $num) (index $factors $unit) | ceil | int64 }}
{{- end }}

{{/* Bytes the keyspaces may use: the sum of maxBytes (podcache's default is 64MiB). */}}
{{- define "podcache.keyspaceBytes" -}}
{{- $sum := 0 }}
{{- range .Values.keyspaces }}
{{- $sum = add $sum (include "podcache.bytes" (default "64MiB" .maxBytes)) }}
{{- end }}
{{- $sum }}
{{- end }}

{{/* Bytes the sidecar needs: the keyspaces plus sidecar.memoryOverhead. */}}
{{- define "podcache.requiredMemoryBytes" -}}
{{- add (include "podcache.keyspaceBytes" .) (include "podcache.quantityBytes" .Values.sidecar.memoryOverhead) }}
{{- end }}

{{/* The sidecar's memory request and limit: sidecar.memory, or the required bytes rounded up to Mi. */}}
{{- define "podcache.memory" -}}
{{- if .Values.sidecar.memory }}
{{- .Values.sidecar.memory }}
{{- else }}
{{- printf "%dMi" (div (add (include "podcache.requiredMemoryBytes" .) 1048575) 1048576) }}
{{- end }}
{{- end }}

{{/* Seconds the sidecar needs from SIGTERM to exit: preStop sleep + shutdownGrace + peerTimeout, rounded up. */}}
{{- define "podcache.sidecarStopSeconds" -}}
{{- $ms := add (mul .Values.sidecar.preStopSleepSeconds 1000) (include "podcache.durationMs" .Values.sidecar.shutdownGrace) (include "podcache.durationMs" .Values.sidecar.peerTimeout) }}
{{- div (add $ms 999) 1000 }}
{{- end }}

{{/* The pod's terminationGracePeriodSeconds: the app's share, the sidecar's stop, 2 s of slack. */}}
{{- define "podcache.requiredGraceSeconds" -}}
{{- add .Values.sidecar.appShutdownSeconds (include "podcache.sidecarStopSeconds" .) 2 }}
{{- end }}

{{- define "podcache.terminationGracePeriodSeconds" -}}
{{- if kindIs "invalid" .Values.sidecar.terminationGracePeriodSeconds }}
{{- include "podcache.requiredGraceSeconds" . }}
{{- else }}
{{- .Values.sidecar.terminationGracePeriodSeconds | int64 }}
{{- end }}
{{- end }}
