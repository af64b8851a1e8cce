package io.github.rpcbridge.sdk;

import java.util.List;
import java.util.Map;

/**
 * What the SDK writes into the instance's ZooKeeper node: the Go
 * {@code registry.Instance} (same members, same order, same omissions),
 * as JSON.
 */
record Instance(String service, String address, String protocol, int weight, String zone, List<String> tags,
        boolean online, String version, Map<String, String> metadata, List<Api> apis) {

    Instance {
        tags = List.copyOf(tags);
        metadata = Map.copyOf(metadata);
        apis = List.copyOf(apis);
    }

    Instance withOnline(boolean on) {
        return new Instance(service, address, protocol, weight, zone, tags, on, version, metadata, apis);
    }

    /** The node data: what Go's json.Marshal writes for registry.Instance. */
    String toJson() {
        Json j = new Json().beginObject();
        if (!service.isEmpty()) {
            j.name("service").value(service);
        }
        j.name("address").value(address);
        j.name("protocol").value(protocol);
        j.name("weight").value(weight);
        if (!zone.isEmpty()) {
            j.name("zone").value(zone);
        }
        if (!tags.isEmpty()) {
            j.name("tags").value(tags);
        }
        j.name("online").value(online);
        if (!version.isEmpty()) {
            j.name("version").value(version);
        }
        if (!metadata.isEmpty()) {
            j.name("metadata").value(metadata);
        }
        if (!apis.isEmpty()) {
            j.name("apis").beginArray();
            for (Api a : apis) {
                a.writeTo(j);
            }
            j.endArray();
        }
        return j.endObject().toString();
    }
}
