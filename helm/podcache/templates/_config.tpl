{{/*
podcache.yaml, the sidecar's --config file (keys as in sidecar/config_loader.cc). The values'
lowerCamelCase keyspace fields become podcache's snake_case keys; ${POD_IP} is expanded by the
sidecar from the environment (the downward API sets it).
*/}}

{{/* A values number as podcache reads it: integral numbers without an exponent (1e+09). */}}
{{- define "podcache.scalar" -}}
{{- if and (kindIs "float64" .) (eq (float64 (int64 .)) .) }}
{{- int64 . }}
{{- else }}
{{- . }}
{{- end }}
{{- end }}

{{- define "podcache.configYaml" -}}
{{- $v := .Values }}
{{- $p := $v.sidecar.ports }}
{{- $c := dict
  "api_listen" (printf "127.0.0.1:%d" (int $p.api))
  "peer_listen" (printf "0.0.0.0:%d" (int $p.peer))
  "http_listen" (printf "0.0.0.0:%d" (int $p.http))
  "advertise" (printf "${POD_IP}:%d" (int $p.peer))
  "log_level" $v.sidecar.logLevel
  "shutdown_grace" $v.sidecar.shutdownGrace
  "peer_timeout" $v.sidecar.peerTimeout
  "max_message_bytes" (include "podcache.scalar" $v.sidecar.maxMessageBytes)
}}
{{- with $v.sidecar.clusterName }}
{{- $_ := set $c "cluster_name" . }}
{{- end }}
{{- $d := dict "mode" $v.discovery.mode }}
{{- if eq $v.discovery.mode "kubernetes" }}
{{- $k := $v.discovery.kubernetes }}
{{- $_ := set $d "kubernetes" (dict
  "service" (include "podcache.serviceName" .)
  "port_name" "peer"
  "serviceaccount_dir" (include "podcache.serviceAccountDir" .)
  "watch_timeout" $k.watchTimeout
  "token_reload" $k.tokenReload) }}
{{- else if eq $v.discovery.mode "dns" }}
{{- $dns := dict "name" (include "podcache.dnsName" .) "port" (int $v.discovery.dns.port) "interval" $v.discovery.dns.interval }}
{{- with $v.discovery.dns.server }}
{{- $_ := set $dns "server" . }}
{{- end }}
{{- $_ := set $d "dns" $dns }}
{{- else if eq $v.discovery.mode "nats" }}
{{- $n := $v.discovery.nats }}
{{- $nats := dict "url" $n.url "heartbeat" $n.heartbeat "expiry" $n.expiry }}
{{- with $n.subject }}
{{- $_ := set $nats "subject" . }}
{{- end }}
{{- if and $n.existingSecret $n.secretKeys.creds }}
{{- $_ := set $nats "creds" (printf "%s/%s" (include "podcache.natsDir" .) $n.secretKeys.creds) }}
{{- end }}
{{- $_ := set $d "nats" $nats }}
{{- else if eq $v.discovery.mode "static" }}
{{- $_ := set $d "static" (dict "peers" $v.discovery.static.peers) }}
{{- end }}
{{- $_ := set $c "discovery" $d }}
{{- if $v.tls.insecure }}
{{- $_ := set $c "insecure_peers" true }}
{{- else }}
{{- $dir := trimSuffix "/" $v.tls.mountPath }}
{{- $_ := set $c "tls" (dict
  "cert" (printf "%s/tls.crt" $dir)
  "key" (printf "%s/tls.key" $dir)
  "ca" (printf "%s/ca.crt" $dir)
  "peer_name" $v.tls.peerName
  "reload_interval" $v.tls.reloadInterval) }}
{{- end }}
{{- $keyspaces := list }}
{{- range $v.keyspaces }}
{{- $ks := dict }}
{{- range $field, $value := . }}
{{- if eq $field "loader" }}
{{- $loader := dict }}
{{- range $lf, $lv := $value }}
{{- $_ := set $loader (snakecase $lf) (include "podcache.scalar" $lv) }}
{{- end }}
{{- $_ := set $ks "loader" $loader }}
{{- else }}
{{- $_ := set $ks (snakecase $field) (include "podcache.scalar" $value) }}
{{- end }}
{{- end }}
{{- $keyspaces = append $keyspaces $ks }}
{{- end }}
{{- $_ := set $c "keyspaces" $keyspaces }}
{{- toYaml $c }}
{{- end }}
