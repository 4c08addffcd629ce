{{/*
Rules that span several values (values.schema.json checks each value alone). Every message
names the values to change. Included by every template, so a bad release fails before it renders.
*/}}
{{- define "podcache.validateValues" -}}
{{- $v := .Values }}
{{- $errors := list }}
{{- if and (eq $v.discovery.mode "nats") (not $v.discovery.nats.url) }}
{{- $errors = append $errors "discovery.mode is nats but discovery.nats.url is empty: set it to the NATS server, e.g. nats://nats.nats.svc:4222" }}
{{- end }}
{{- if and (eq $v.discovery.mode "nats") (le (int64 (include "podcache.durationMs" $v.discovery.nats.expiry)) (int64 (include "podcache.durationMs" $v.discovery.nats.heartbeat))) }}
{{- $errors = append $errors (printf "discovery.nats.expiry (%s) must be longer than discovery.nats.heartbeat (%s)" $v.discovery.nats.expiry $v.discovery.nats.heartbeat) }}
{{- end }}
{{- $n := $v.discovery.nats }}
{{- if and (not $n.existingSecret) (or $n.secretKeys.creds $n.secretKeys.user $n.secretKeys.password $n.secretKeys.token) }}
{{- $errors = append $errors "discovery.nats.secretKeys are set but discovery.nats.existingSecret is empty: name the Secret that holds them" }}
{{- end }}
{{- if and $n.secretKeys.token (or $n.secretKeys.user $n.secretKeys.creds) }}
{{- $errors = append $errors "discovery.nats.secretKeys.token cannot be combined with user or creds: NATS authenticates with one of a token, a user and password, or a .creds file" }}
{{- end }}
{{- if and (eq $v.discovery.mode "static") (empty $v.discovery.static.peers) }}
{{- $errors = append $errors "discovery.mode is static but discovery.static.peers is empty: list every member as host:port (or use discovery.mode kubernetes)" }}
{{- end }}
{{- if and (eq $v.tls.source "existingSecret") (not $v.tls.existingSecret) (not $v.tls.insecure) }}
{{- $errors = append $errors "tls.source is existingSecret but tls.existingSecret is empty: name a Secret with tls.crt, tls.key and ca.crt" }}
{{- end }}
{{- if and (eq $v.discovery.mode "kubernetes") (not $v.serviceAccount.create) (not $v.serviceAccount.name) }}
{{- $errors = append $errors "serviceAccount.create is false but serviceAccount.name is empty: discovery kubernetes needs the ServiceAccount the Role is bound to" }}
{{- end }}
{{- $names := dict }}
{{- range $v.keyspaces }}
{{- if hasKey $names .name }}
{{- $errors = append $errors (printf "keyspaces: %q is declared twice" .name) }}
{{- end }}
{{- $_ := set $names .name true }}
{{- if and .loader (hasKey .loader "http") (hasKey .loader "grpc") }}
{{- $errors = append $errors (printf "keyspaces[%s].loader: set http or grpc, not both" .name) }}
{{- end }}
{{- end }}
{{- $p := $v.sidecar.ports }}
{{- if or (eq (int $p.api) (int $p.peer)) (eq (int $p.api) (int $p.http)) (eq (int $p.peer) (int $p.http)) }}
{{- $errors = append $errors (printf "sidecar.ports must be three different ports (api %d, peer %d, http %d)" (int $p.api) (int $p.peer) (int $p.http)) }}
{{- end }}
{{- if and $v.example.enabled (or (eq (int $v.example.port) (int $p.api)) (eq (int $v.example.port) (int $p.peer)) (eq (int $v.example.port) (int $p.http))) }}
{{- $errors = append $errors (printf "example.port %d collides with a sidecar port" (int $v.example.port)) }}
{{- end }}
{{- $need := int64 (include "podcache.requiredMemoryBytes" .) }}
{{- if $v.sidecar.memory }}
{{- $have := int64 (include "podcache.quantityBytes" $v.sidecar.memory) }}
{{- if lt $have $need }}
{{- $errors = append $errors (printf "sidecar.memory %s (%d bytes) is below what the sidecar needs: the keyspaces' maxBytes sum to %d bytes, plus sidecar.memoryOverhead %s, is %d bytes (%dMi); raise sidecar.memory or leave it empty to compute it" $v.sidecar.memory $have (int64 (include "podcache.keyspaceBytes" .)) $v.sidecar.memoryOverhead $need (div (add $need 1048575) 1048576)) }}
{{- end }}
{{- end }}
{{- if not (kindIs "invalid" $v.sidecar.terminationGracePeriodSeconds) }}
{{- $required := int64 (include "podcache.requiredGraceSeconds" .) }}
{{- if lt (int64 $v.sidecar.terminationGracePeriodSeconds) $required }}
{{- $errors = append $errors (printf "sidecar.terminationGracePeriodSeconds %d is shorter than the shutdown needs: appShutdownSeconds %d + preStopSleepSeconds %d + shutdownGrace %s + peerTimeout %s + 2 = %d" (int64 $v.sidecar.terminationGracePeriodSeconds) (int64 $v.sidecar.appShutdownSeconds) (int64 $v.sidecar.preStopSleepSeconds) $v.sidecar.shutdownGrace $v.sidecar.peerTimeout $required) }}
{{- end }}
{{- end }}
{{- if $errors }}
{{- fail (printf "\n\npodcache: invalid values:\n  - %s" (join "\n  - " $errors)) }}
{{- end }}
{{- end }}
