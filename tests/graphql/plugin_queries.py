"""Query texts the Backstage Orchestrator plugin sends (as its DataIndexService writes them).

The shapes a real plugin sent are recorded in
tests/data/reference/orchestrator-plugin/backend-8.13.2-calls.txt and replayed by
test_recorded_plugin_calls.py.
"""

Q5_BODY = (
    "{id, version, processName, processId, state, start, end, nodes { id }, variables,"
    " executionSummary, parentProcessInstance {id, processName, businessKey} }"
)
Q5 = (
    "query ($paginationInfo: Pagination, $orderByInfo: ProcessInstanceOrderBy)"
    "{ProcessInstances ( where: {and: [{processId: {isNull: false}},"
    ' {processId: {in: ["greet", "approve"]}}]}, orderBy: $orderByInfo,'
    " pagination: $paginationInfo) " + Q5_BODY + " }"
)
Q11 = """
query FindProcessInstanceQuery($instanceId: String!) {
  ProcessInstances(where: { id: { equal: $instanceId } }) {
    id processName processId serviceUrl executionSummary state start end
    nodes { id nodeId definitionId type name enter exit errorMessage }
    variables
    parentProcessInstance { id processName businessKey }
    error { nodeDefinitionId nodeInstanceId message }
  }
}
"""
