{{/* Labels of every object of the chart. */}}
{{- define "kafscale-operator.labels" -}}
app.kubernetes.io/name: kafscale-operator
app.kubernetes.io/instance: {{ .Release.Name }}
app.kubernetes.io/version: {{ .Chart.AppVersion | quote }}
helm.sh/chart: {{ printf "%s-%s" .Chart.Name .Chart.Version }}
{{- end -}}
