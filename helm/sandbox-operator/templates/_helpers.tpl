{{/* Chart name. */}}
{{- define "sandbox-operator.name" -}}
{{- default .Chart.Name .Values.nameOverride | trunc 63 | trimSuffix "-" -}}
{{- end -}}

{{/* Full name: release-chart, unless the release name already contains the chart name. */}}
{{- define "sandbox-operator.fullname" -}}
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

{{/* Selector labels. */}}
{{- define "sandbox-operator.selectorLabels" -}}
app.kubernetes.io/name: {{ include "sandbox-operator.name" . }}
app.kubernetes.io/instance: {{ .Release.Name }}
{{- end -}}

{{/* Common labels. */}}
{{- define "sandbox-operator.labels" -}}
helm.sh/chart: {{ printf "%s-%s" .Chart.Name .Chart.Version | replace "+" "_" }}
{{ include "sandbox-operator.selectorLabels" . }}
app.kubernetes.io/version: {{ .Chart.AppVersion | quote }}
app.kubernetes.io/managed-by: {{ .Release.Service }}
app.kubernetes.io/component: operator
{{- end -}}

{{/* ServiceAccount name. */}}
{{- define "sandbox-operator.serviceAccountName" -}}
{{- if .Values.serviceAccount.create -}}
{{- default (include "sandbox-operator.fullname" .) .Values.serviceAccount.name -}}
{{- else -}}
{{- default "default" .Values.serviceAccount.name -}}
{{- end -}}
{{- end -}}

{{/* Image reference: the digest wins over the tag; the tag defaults to appVersion. */}}
{{- define "sandbox-operator.image" -}}
{{- if .Values.image.digest -}}
{{- printf "%s@%s" .Values.image.repository .Values.image.digest -}}
{{- else -}}
{{- printf "%s:%s" .Values.image.repository (default .Chart.AppVersion .Values.image.tag) -}}
{{- end -}}
{{- end -}}

{{/* The namespaces the operator watches and holds a Role in: the listed ones, else the release's own. */}}
{{- define "sandbox-operator.watchedNamespaces" -}}
{{- if .Values.watchNamespaces -}}
{{- join "," .Values.watchNamespaces -}}
{{- else -}}
{{- .Release.Namespace -}}
{{- end -}}
{{- end -}}

{{/* The namespaced rules the operator needs, for a ClusterRole or a per-namespace Role. */}}
{{- define "sandbox-operator.namespacedRules" -}}
# The two custom resources: watched; executions deleted after ttlSecondsAfterFinished.
- apiGroups: ["sandboxes.dev"]
  resources: ["sandboxproviders", "codeexecutions"]
  verbs: ["get", "list", "watch"]
- apiGroups: ["sandboxes.dev"]
  resources: ["codeexecutions"]
  verbs: ["delete"]
# Status, the sandbox id included, is written with whole-status PUTs conditioned on the
# resourceVersion read: no code path patches it, so no patch verb.
- apiGroups: ["sandboxes.dev"]
  resources: ["sandboxproviders/status", "codeexecutions/status"]
  verbs: ["get", "update"]
# Secrets referenced by providers and executions: read one by one by name, never listed, watched
# or cached (executions may only use Secrets labelled sandboxes.dev/execution-input: "true").
- apiGroups: [""]
  resources: ["secrets"]
  verbs: ["get"]
# ConfigMaps referenced by executions, read one by one by name: code (codeFrom) and arguments
# (argumentsFrom; only ConfigMaps labelled sandboxes.dev/execution-input: "true"). Each execution's
# artifacts are stored in a new ConfigMap <execution-name>-artifacts that it owns (never updated,
# deleted with it by the garbage collector).
- apiGroups: [""]
  resources: ["configmaps"]
  verbs: ["get", "create"]
# Events: each one is a new object (no series updates).
- apiGroups: ["events.k8s.io"]
  resources: ["events"]
  verbs: ["create"]
{{- if .Values.rbac.selfManagedPods }}
# SelfManaged pools: sandbox pods, exec into them, and their NetworkPolicy. A claim is recorded with
# a PUT conditioned on the resourceVersion; an unused claim never left the operator's memory, so
# nothing patches a pod.
- apiGroups: [""]
  resources: ["pods"]
  verbs: ["get", "list", "watch", "create", "update", "delete"]
- apiGroups: [""]
  resources: ["pods/exec"]
  verbs: ["create", "get"]
# The pool's NetworkPolicy: read, created, brought back to the desired spec by an update; it is
# deleted with its provider through the owner reference (garbage collector), not by the operator.
- apiGroups: ["networking.k8s.io"]
  resources: ["networkpolicies"]
  verbs: ["get", "create", "update"]
{{- end }}
{{- end -}}

{{/* An alert's runbook: a URL into the published chart README, or the README section to read. */}}
{{- define "sandbox-operator.runbook" -}}
{{- $r := index . 0 -}}
{{- $anchor := index . 1 -}}
{{- if $r.runbookBaseUrl -}}
runbook_url: {{ printf "%s#%s" (trimSuffix "#" $r.runbookBaseUrl) $anchor | quote }}
{{- else -}}
runbook: {{ printf "sandbox-operator chart README (helm/sandbox-operator/README.md#%s)" $anchor | quote }}
{{- end -}}
{{- end -}}
