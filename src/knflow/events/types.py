"""CloudEvent type names: every type knflow produces or routes, defined once."""

from typing import Final

STEP_READY: Final = "knflow.step.ready"
NOTIFICATION_REQUESTED: Final = "knflow.notification.requested"

PROCESS_INSTANCE_STATE: Final = "ProcessInstanceStateDataEvent"
PROCESS_INSTANCE_NODE: Final = "ProcessInstanceNodeDataEvent"
PROCESS_INSTANCE_VARIABLE: Final = "ProcessInstanceVariableDataEvent"
PROCESS_INSTANCE_ERROR: Final = "ProcessInstanceErrorDataEvent"
PROCESS_INSTANCE_MULTIPLE: Final = "MultipleProcessInstanceDataEvent"
PROCESS_DEFINITION: Final = "ProcessDefinitionEvent"
JOB_EVENT: Final = "JobEvent"

JOB_CREATE: Final = "job.create"
JOB_DELETE: Final = "job.delete"
JOB_SCHEDULED: Final = "knflow.job.scheduled"
PING: Final = "dev.knative.sources.ping"
# ApiServerSource in Resource mode (eventing/apiserversource-workflow-definitions.yaml):
# a workflow definition ConfigMap was added, changed or deleted.
APISERVER_RESOURCE_ADD: Final = "dev.knative.apiserver.resource.add"
APISERVER_RESOURCE_UPDATE: Final = "dev.knative.apiserver.resource.update"
APISERVER_RESOURCE_DELETE: Final = "dev.knative.apiserver.resource.delete"

DATA_INDEX_TYPES: Final = frozenset(
    {
        PROCESS_INSTANCE_STATE,
        PROCESS_INSTANCE_NODE,
        PROCESS_INSTANCE_VARIABLE,
        PROCESS_INSTANCE_ERROR,
        PROCESS_INSTANCE_MULTIPLE,
        PROCESS_DEFINITION,
        JOB_EVENT,
    }
)
