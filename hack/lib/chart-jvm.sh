# shellcheck shell=bash
# The operator's JVM settings as the Helm chart sets them, so that a benchmark measures the process
# an installed operator runs, not a JVM with defaults.
#
#   source "$(dirname "${BASH_SOURCE[0]}")/lib/chart-jvm.sh"
#   chart_env JAVA_TOOL_OPTIONS     # the value of an env var of the chart's Deployment
#   chart_memory_limit              # the container's memory limit, e.g. 512m

readonly CHART_DIR=helm/sandbox-operator

# The literal value of the operator Deployment's env var NAME (comment lines between name and
# value are skipped); empty when the chart has none.
chart_env() {
  awk -v name="$1" '
    $0 ~ "- name: " name "$" { found = 1; next }
    found && /- name:/ { exit }
    found && /value:/ { sub(/.*value: "?/, ""); sub(/"[^"]*$/, ""); print; exit }
  ' "$CHART_DIR/templates/controller/deployment.yaml"
}

# The chart's default memory limit as a JVM size (512m), from values.yaml.
chart_memory_limit() {
  local limit
  limit=$(sed -n '/^resources:/,/^[^ ]/{/limits:/,/memory:/{s/.*memory: *\([0-9]*\)Mi.*/\1/p}}' "$CHART_DIR/values.yaml")
  printf '%sm\n' "${limit:-512}"
}

# Exports the chart's glibc malloc setting unless the caller chose one.
export_chart_malloc() {
  local arenas
  arenas=$(chart_env MALLOC_ARENA_MAX)
  if [[ -z ${MALLOC_ARENA_MAX:-} && -n $arenas ]]; then export MALLOC_ARENA_MAX=$arenas; fi
}
