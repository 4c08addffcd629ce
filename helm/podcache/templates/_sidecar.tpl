{{/*
The sidecar, for your own pod spec. Each template takes the podcache chart's scope ("." in this
chart, ".Subcharts.podcache" in a parent chart):

  template:
    metadata:
      labels:
        {{- include "podcache.memberLabels" .Subcharts.podcache | nindent 8 }}
      annotations:
        {{- include "podcache.podAnnotations" .Subcharts.podcache | nindent 8 }}
    spec:
      serviceAccountName: {{ include "podcache.serviceAccountName" .Subcharts.podcache }}
      terminationGracePeriodSeconds: {{ include "podcache.terminationGracePeriodSeconds" .Subcharts.podcache }}
      initContainers:
        {{- include "podcache.sidecar" .Subcharts.podcache | nindent 8 }}
      containers: [...your app...]
      volumes:
        {{- include "podcache.volumes" .Subcharts.podcache | nindent 8 }}
*/}}

{{/* Pod annotations: a checksum of podcache.yaml, so a changed configuration rolls the pods. */}}
{{- define "podcache.podAnnotations" -}}
checksum/podcache-config: {{ include "podcache.configYaml" . | sha256sum }}
{{- end }}

{{/* The native sidecar: an init container with restartPolicy Always (Kubernetes >= 1.29). */}}
{{- define "podcache.sidecar" -}}
{{- include "podcache.validateValues" . }}
{{- $v := .Values }}
{{- $s := $v.sidecar }}
{{- $memory := include "podcache.memory" . -}}
- name: {{ $s.name }}
  image: {{ include "podcache.image" . }}
  imagePullPolicy: {{ $v.image.pullPolicy }}
  restartPolicy: Always
  args:
    - --config={{ include "podcache.configDir" . }}/podcache.yaml
    {{- range $s.extraArgs }}
    - {{ . | quote }}
    {{- end }}
  env:
    - name: POD_IP
      valueFrom:
        fieldRef:
          fieldPath: status.podIP
    - name: POD_NAME
      valueFrom:
        fieldRef:
          fieldPath: metadata.name
    {{- $n := $v.discovery.nats }}
    {{- if and (eq $v.discovery.mode "nats") $n.existingSecret }}
    {{- range $env, $key := dict "PODCACHE_NATS_USER" $n.secretKeys.user "PODCACHE_NATS_PASSWORD" $n.secretKeys.password "PODCACHE_NATS_TOKEN" $n.secretKeys.token }}
    {{- if $key }}
    - name: {{ $env }}
      valueFrom:
        secretKeyRef:
          name: {{ $n.existingSecret }}
          key: {{ $key }}
    {{- end }}
    {{- end }}
    {{- end }}
    {{- with $s.extraEnv }}
    {{- toYaml . | nindent 4 }}
    {{- end }}
  ports:
    - name: podcache-peer
      containerPort: {{ $s.ports.peer }}
      protocol: TCP
    - name: podcache-http
      containerPort: {{ $s.ports.http }}
      protocol: TCP
  startupProbe:
    httpGet:
      path: /healthz
      port: podcache-http
    periodSeconds: {{ $s.probes.startup.periodSeconds }}
    failureThreshold: {{ $s.probes.startup.failureThreshold }}
    timeoutSeconds: {{ $s.probes.startup.timeoutSeconds }}
  livenessProbe:
    httpGet:
      path: /healthz
      port: podcache-http
    periodSeconds: {{ $s.probes.liveness.periodSeconds }}
    failureThreshold: {{ $s.probes.liveness.failureThreshold }}
    timeoutSeconds: {{ $s.probes.liveness.timeoutSeconds }}
  readinessProbe:
    httpGet:
      path: /readyz
      port: podcache-http
    periodSeconds: {{ $s.probes.readiness.periodSeconds }}
    failureThreshold: {{ $s.probes.readiness.failureThreshold }}
    timeoutSeconds: {{ $s.probes.readiness.timeoutSeconds }}
  {{- if gt (int $s.preStopSleepSeconds) 0 }}
  lifecycle:
    preStop:
      sleep:
        seconds: {{ $s.preStopSleepSeconds }}
  {{- end }}
  resources:
    requests:
      cpu: {{ $s.cpuRequest | quote }}
      memory: {{ $memory | quote }}
    limits:
      {{- with $s.cpuLimit }}
      cpu: {{ . | quote }}
      {{- end }}
      memory: {{ $memory | quote }}
  securityContext:
    {{- toYaml $s.securityContext | nindent 4 }}
  volumeMounts:
    - name: podcache-config
      mountPath: {{ include "podcache.configDir" . }}
      readOnly: true
    {{- if not $v.tls.insecure }}
    - name: podcache-tls
      mountPath: {{ trimSuffix "/" $v.tls.mountPath }}
      readOnly: true
    {{- end }}
    {{- if include "podcache.usesKubernetesApi" . }}
    - name: podcache-serviceaccount
      mountPath: {{ include "podcache.serviceAccountDir" . }}
      readOnly: true
    {{- end }}
    {{- if and (eq $v.discovery.mode "nats") $n.existingSecret $n.secretKeys.creds }}
    - name: podcache-nats
      mountPath: {{ include "podcache.natsDir" . }}
      readOnly: true
    {{- end }}
    {{- with $s.extraVolumeMounts }}
    {{- toYaml . | nindent 4 }}
    {{- end }}
{{- end }}

{{/*
The sidecar's volumes. Secrets are mounted as directories (never subPath) so that Kubernetes'
atomic symlink swap on renewal reaches the running sidecar, which reloads the files.
*/}}
{{- define "podcache.volumes" -}}
{{- $v := .Values -}}
- name: podcache-config
  configMap:
    name: {{ include "podcache.configMapName" . }}
{{- if not $v.tls.insecure }}
- name: podcache-tls
  secret:
    secretName: {{ include "podcache.tlsSecretName" . }}
    items:
      - key: tls.crt
        path: tls.crt
      - key: tls.key
        path: tls.key
      - key: ca.crt
        path: ca.crt
{{- end }}
{{- if include "podcache.usesKubernetesApi" . }}
{{- /* The sidecar's own token, so the app containers need no token and the pod can keep
  automountServiceAccountToken false: what the kubelet mounts by default, at the sidecar's dir. */}}
- name: podcache-serviceaccount
  projected:
    defaultMode: 0444
    sources:
      - serviceAccountToken:
          path: token
          expirationSeconds: 3607
      - configMap:
          name: kube-root-ca.crt
          items:
            - key: ca.crt
              path: ca.crt
      - downwardAPI:
          items:
            - path: namespace
              fieldRef:
                fieldPath: metadata.namespace
{{- end }}
{{- $n := $v.discovery.nats }}
{{- if and (eq $v.discovery.mode "nats") $n.existingSecret $n.secretKeys.creds }}
- name: podcache-nats
  secret:
    secretName: {{ $n.existingSecret }}
    items:
      - key: {{ $n.secretKeys.creds }}
        path: {{ $n.secretKeys.creds }}
{{- end }}
{{- end }}
