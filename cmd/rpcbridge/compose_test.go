package main

import (
	"encoding/json"
	"testing"
	"time"
)

// The demo's composed route answers from real Dubbo, gRPC, Thrift and Tars
// servers in one reply; the Thrift call takes its id from the Dubbo reply.
func TestAComposedRouteSpansFourProtocols(t *testing.T) {
	vars := demoBackendsProcess(t)
	vars["listen"], vars["admin"] = freeAddr(t), freeAddr(t) // serve is given its own below
	base, _ := startGatewayOn(t, demoYAML(vars)+`
  - match: {path: "/v1/mixed/{id}", methods: [GET]}
    compose:
      calls:
        user:   {service: users,  method: getUser, args: {id: "{id}"}}
        person: {service: people, method: Get,     args: {id: "404"}, optional: true}
`)
	var status int
	var body string
	deadline := time.Now().Add(20 * time.Second)
	for status, body = get(base + "/v1/home/1?code=600000"); status != 200; status, body = get(base + "/v1/home/1?code=600000") {
		if time.Now().After(deadline) {
			t.Fatalf("the composed route: got %d %s, want 200", status, body)
		}
		time.Sleep(50 * time.Millisecond)
	}
	var got struct {
		Name, Email string
		Order       struct {
			ID       json.Number `json:"id"`
			Customer string
			Items    []struct{ PriceCents json.Number }
		}
		Quote struct{ Code, Name string }
	}
	if err := json.Unmarshal([]byte(body), &got); err != nil {
		t.Fatalf("reply %s: %v", body, err)
	}
	if got.Name != "Ada Lovelace" || got.Email != "ada@example.org" || got.Order.ID != "1" || got.Order.Customer != "ada" ||
		len(got.Order.Items) != 1 || got.Order.Items[0].PriceCents != "1250" || got.Quote.Code != "600000" {
		t.Errorf("got %s, want gRPC's name, Dubbo's email, Thrift's order 1 and Tars's quote 600000", body)
	}
	// An optional call failing (gRPC's NOT_FOUND) gives null; the rest still answers.
	status, body = get(base + "/v1/mixed/1")
	var partial map[string]json.RawMessage
	json.Unmarshal([]byte(body), &partial)
	if status != 200 || string(partial["person"]) != "null" || !json.Valid(partial["_errors"]) || len(partial["user"]) == 0 {
		t.Errorf("an optional gRPC call failing: got %d %s, want 200 with person null, user and _errors", status, body)
	}
	// Required calls failing (gRPC's and Dubbo's 404) fail the route with
	// the first that failed (calls in name order), not with the Thrift call
	// skipped for want of the user.
	status, body = get(base + "/v1/home/404")
	var e struct{ Error struct{ Code, Call string } }
	json.Unmarshal([]byte(body), &e)
	if status != 404 || e.Error.Call != "person" {
		t.Errorf("id 404: got %d %s, want 404 naming the call person", status, body)
	}
}
