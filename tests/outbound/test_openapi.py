"""OpenAPI (`rest`) functions against a real local HTTP server."""

from __future__ import annotations

from typing import Any

import pytest

from knflow.config import Settings
from knflow.errors import ActionError
from knflow.outbound import function_errors
from knflow.outbound.function_call import FunctionCall
from knflow.outbound.functions import invoke
from knflow.outbound.http import HttpClient
from tests.outbound.conftest import MakeCall
from tests.peers import HttpPeer, Reply

FILE = "specs/petstore.yaml"


def _petstore(server_url: str) -> dict[str, Any]:
    """An OpenAPI 3 document exercising every parameter location and a body."""
    return {
        "openapi": "3.0.3",
        "info": {"title": "pets", "version": "1"},
        "servers": [
            {"url": server_url + "/{base}", "variables": {"base": {"default": "v1"}}}
        ],
        "paths": {
            "/stores/{storeId}/pets": {
                "parameters": [{"$ref": "#/components/parameters/StoreId"}],
                "post": {
                    "operationId": "addPet",
                    "parameters": [
                        {"name": "dryRun", "in": "query"},
                        {"name": "X-Request-Id", "in": "header"},
                        {"name": "session", "in": "cookie"},
                    ],
                    "requestBody": {"$ref": "#/components/requestBodies/Pet"},
                },
                "get": {
                    "operationId": "listPets",
                    "parameters": [
                        {"name": "tags", "in": "query"},
                        {"name": "filter", "in": "query", "style": "deepObject"},
                    ],
                },
            },
        },
        "components": {
            "parameters": {"StoreId": {"name": "storeId", "in": "path"}},
            "requestBodies": {
                "Pet": {
                    "required": True,
                    "content": {"application/json": {"schema": {"type": "object"}}},
                }
            },
        },
    }


def _call(
    make_call: MakeCall, document: dict[str, Any], operation: str, **fields: Any
) -> FunctionCall:
    return make_call(
        function_name="pets",
        function_type="rest",
        operation=f"{FILE}#{operation}",
        resources={FILE: document},
        **fields,
    )


def test_arguments_fill_path_query_header_and_cookie_and_the_rest_is_the_body(
    client: HttpClient, http_peer: HttpPeer, make_call: MakeCall
) -> None:
    http_peer.route("POST", "/v1/stores/s%2F1/pets", Reply(201, {"id": 9}))
    arguments = {
        "storeId": "s/1",
        "dryRun": False,
        "X-Request-Id": "r-1",
        "session": "abc",
        "name": "Rex",
        "age": 3,
    }
    call = _call(make_call, _petstore(http_peer.url), "addPet", arguments=arguments)

    result = invoke(client, Settings(), call)

    [request] = http_peer.received("POST")
    assert result == {"id": 9}
    assert request.path == "/v1/stores/s%2F1/pets?dryRun=false"
    assert request.headers["x-request-id"] == "r-1"
    assert request.headers["cookie"] == "session=abc"
    assert request.json() == {"name": "Rex", "age": 3}


def test_an_argument_named_body_left_alone_is_the_body(
    client: HttpClient, http_peer: HttpPeer, make_call: MakeCall
) -> None:
    http_peer.route("POST", "/v1/stores/1/pets", Reply(200, {}))
    arguments = {"storeId": 1, "body": [{"name": "Rex"}]}
    call = _call(make_call, _petstore(http_peer.url), "addPet", arguments=arguments)

    invoke(client, Settings(), call)

    assert http_peer.received("POST")[0].json() == [{"name": "Rex"}]


def test_a_body_argument_stays_a_field_when_the_schema_has_a_body_property(
    client: HttpClient, http_peer: HttpPeer, make_call: MakeCall
) -> None:
    document = {
        "openapi": "3.0.0",
        "servers": [{"url": http_peer.url}],
        "paths": {
            "/comments": {
                "post": {
                    "operationId": "comment",
                    "requestBody": {
                        "content": {
                            "application/json": {
                                "schema": {"$ref": "#/components/schemas/Comment"}
                            }
                        }
                    },
                }
            }
        },
        "components": {
            "schemas": {"Comment": {"properties": {"body": {"type": "string"}}}}
        },
    }
    http_peer.route("POST", "/comments", Reply(201, {}))
    call = _call(make_call, document, "comment", arguments={"body": "LGTM"})

    invoke(client, Settings(), call)

    assert http_peer.received("POST")[0].json() == {"body": "LGTM"}


def test_relative_server_is_resolved_against_a_document_fetched_over_http(
    client: HttpClient, http_peer: HttpPeer, make_call: MakeCall
) -> None:
    file = f"{http_peer.url}/docs/openapi.json"
    http_peer.route("GET", "/api/v1/stores/1/pets", Reply(200, []))
    call = make_call(
        function_type="rest",
        operation=f"{file}#listPets",
        resources={file: _petstore("/api")},
        arguments={"storeId": 1},
    )

    invoke(client, Settings(), call)

    assert http_peer.received("GET")[0].path == "/api/v1/stores/1/pets"


def test_required_body_with_no_arguments_left_is_an_empty_object(
    client: HttpClient, http_peer: HttpPeer, make_call: MakeCall
) -> None:
    http_peer.route("POST", "/v1/stores/1/pets", Reply(200, {}))
    call = _call(
        make_call, _petstore(http_peer.url), "addPet", arguments={"storeId": 1}
    )

    invoke(client, Settings(), call)

    assert http_peer.received("POST")[0].json() == {}


def test_get_serializes_lists_exploded_and_deep_objects_and_sends_no_body(
    client: HttpClient, http_peer: HttpPeer, make_call: MakeCall
) -> None:
    http_peer.route("GET", "/v1/stores/1/pets", Reply(200, [{"name": "Rex"}]))
    arguments = {"storeId": 1, "tags": ["a", "b"], "filter": {"age": 3}, "extra": 1}
    call = _call(make_call, _petstore(http_peer.url), "listPets", arguments=arguments)

    result = invoke(client, Settings(), call)

    [request] = http_peer.received("GET")
    assert result == [{"name": "Rex"}]
    assert request.path == "/v1/stores/1/pets?tags=a&tags=b&filter%5Bage%5D=3"
    assert request.body == b""


def test_configured_function_url_replaces_the_document_server(
    client: HttpClient, http_peer: HttpPeer, make_call: MakeCall
) -> None:
    http_peer.route("GET", "/local/stores/1/pets", Reply(200, []))
    settings = Settings(function_urls={"pets": f"{http_peer.url}/local"})
    document = _petstore("https://pets.example.com")
    call = _call(make_call, document, "listPets", arguments={"storeId": 1})

    assert invoke(client, settings, call) == []


def test_file_stem_configures_the_url_when_the_function_name_does_not(
    client: HttpClient, http_peer: HttpPeer, make_call: MakeCall
) -> None:
    http_peer.route("GET", "/stores/1/pets", Reply(200, []))
    settings = Settings(function_urls={"PETSTORE": http_peer.url})
    document = _petstore("https://pets.example.com")
    call = _call(make_call, document, "listPets", arguments={"storeId": 1})

    invoke(client, settings, call)

    assert http_peer.received("GET")[0].path == "/stores/1/pets"


def test_relative_server_without_configuration_is_a_permanent_error(
    client: HttpClient, make_call: MakeCall
) -> None:
    call = _call(make_call, _petstore(""), "listPets", arguments={"storeId": 1})

    with pytest.raises(ActionError, match="KNFLOW_FUNCTION_URL_PETS") as raised:
        invoke(client, Settings(), call)

    assert raised.value.kind == function_errors.ILLEGAL_ARGUMENT
    assert raised.value.retryable is False


@pytest.mark.parametrize(
    ("operation", "resources", "message"),
    [
        (f"{FILE}#nope", {FILE: {"openapi": "3.0.0", "paths": {}}}, "operation 'nope'"),
        (f"{FILE}#listPets", {}, "is not loaded"),
        ("listPets", {}, "is not of the form"),
    ],
    ids=["unknown-operation", "document-not-loaded", "no-file"],
)
def test_unresolvable_operation_is_a_permanent_error(
    client: HttpClient,
    make_call: MakeCall,
    operation: str,
    resources: dict[str, Any],
    message: str,
) -> None:
    call = make_call(function_type="rest", operation=operation, resources=resources)

    with pytest.raises(ActionError, match=message) as raised:
        invoke(client, Settings(), call)

    assert raised.value.retryable is False


def test_missing_path_argument_is_a_permanent_error(
    client: HttpClient, http_peer: HttpPeer, make_call: MakeCall
) -> None:
    call = _call(make_call, _petstore(http_peer.url), "listPets", arguments={})

    with pytest.raises(ActionError, match="storeId"):
        invoke(client, Settings(), call)

    assert http_peer.received() == []


def test_temperature_conversion_style_call_sends_the_object_and_reads_the_product(
    client: HttpClient, http_peer: HttpPeer, make_call: MakeCall
) -> None:
    document = {
        "openapi": "3.0.3",
        "info": {"title": "multiplication", "version": "1"},
        "paths": {
            "/": {
                "post": {
                    "operationId": "doOperation",
                    "requestBody": {
                        "content": {"application/json": {"schema": {"type": "object"}}}
                    },
                }
            }
        },
    }
    http_peer.route("POST", "/", Reply(200, {"product": 10.0}))
    call = make_call(
        function_name="multiplication",
        function_type="rest",
        operation="specs/multiplication.yaml#doOperation",
        arguments={"leftElement": 18.0, "rightElement": 0.5556},
        resources={"specs/multiplication.yaml": document},
    )

    result = invoke(
        client, Settings(function_urls={"multiplication": http_peer.url}), call
    )

    assert result == {"product": 10.0}
    assert http_peer.received("POST")[0].json() == {
        "leftElement": 18.0,
        "rightElement": 0.5556,
    }


def test_form_request_body_is_sent_urlencoded(
    client: HttpClient, http_peer: HttpPeer, make_call: MakeCall
) -> None:
    document = {
        "openapi": "3.1.0",
        "servers": [{"url": http_peer.url}],
        "paths": {
            "/token": {
                "post": {
                    "operationId": "token",
                    "requestBody": {
                        "content": {"application/x-www-form-urlencoded": {}}
                    },
                }
            }
        },
    }
    http_peer.route("POST", "/token", Reply(200, {"access_token": "t"}))
    arguments = {"grant_type": "client_credentials", "scope": ["a", "b"]}
    call = _call(make_call, document, "token", arguments=arguments)

    invoke(client, Settings(), call)

    [request] = http_peer.received("POST")
    assert request.headers["content-type"] == "application/x-www-form-urlencoded"
    assert request.body == b"grant_type=client_credentials&scope=a&scope=b"


def test_swagger_2_uses_host_base_path_body_parameter_and_collection_formats(
    client: HttpClient, http_peer: HttpPeer, make_call: MakeCall
) -> None:
    host = http_peer.url.removeprefix("http://")
    document = {
        "swagger": "2.0",
        "host": host,
        "basePath": "/api",
        "schemes": ["http"],
        "paths": {
            "/pets/{id}": {
                "put": {
                    "operationId": "updatePet",
                    "parameters": [
                        {"name": "id", "in": "path", "type": "string"},
                        {"name": "ids", "in": "query", "type": "array"},
                        {
                            "name": "tags",
                            "in": "query",
                            "type": "array",
                            "collectionFormat": "multi",
                        },
                        {"name": "pet", "in": "body"},
                    ],
                }
            }
        },
    }
    http_peer.route("PUT", "/api/pets/7", Reply(200, {"updated": True}))
    arguments = {"id": 7, "ids": [1, 2], "tags": ["x", "y"], "pet": {"name": "Rex"}}
    call = _call(make_call, document, "updatePet", arguments=arguments)

    result = invoke(client, Settings(), call)

    [request] = http_peer.received("PUT")
    assert result == {"updated": True}
    assert request.path == "/api/pets/7?ids=1%2C2&tags=x&tags=y"
    assert request.json() == {"name": "Rex"}


def test_non_object_arguments_are_the_body(
    client: HttpClient, http_peer: HttpPeer, make_call: MakeCall
) -> None:
    document = {
        "openapi": "3.0.0",
        "servers": [{"url": http_peer.url}],
        "paths": {"/sum": {"post": {"operationId": "sum", "requestBody": {}}}},
    }
    http_peer.route("POST", "/sum", Reply(200, 6))
    call = _call(make_call, document, "sum", arguments=[1, 2, 3])

    assert invoke(client, Settings(), call) == 6
    assert http_peer.received("POST")[0].json() == [1, 2, 3]


def test_swagger_form_data_parameters_are_sent_urlencoded(
    client: HttpClient, http_peer: HttpPeer, make_call: MakeCall
) -> None:
    document = {
        "swagger": "2.0",
        "host": http_peer.url.removeprefix("http://"),
        "paths": {
            "/login": {
                "post": {
                    "operationId": "login",
                    "parameters": [
                        {"name": "user", "in": "formData"},
                        {"name": "password", "in": "formData"},
                    ],
                }
            }
        },
    }
    http_peer.route("POST", "/login", Reply(200, {"ok": True}))
    arguments = {"user": "ana", "password": "p&w"}
    call = _call(make_call, document, "login", arguments=arguments)

    invoke(client, Settings(), call)

    [request] = http_peer.received("POST")
    assert request.headers["content-type"] == "application/x-www-form-urlencoded"
    assert request.body == b"user=ana&password=p%26w"
