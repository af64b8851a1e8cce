package catalog

import (
	"io"
	"net/http"
	"strings"
	"testing"
)

func TestCatalogAnswersItsMethods(t *testing.T) {
	s, err := Start("127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(s.Stop)
	for _, c := range []struct {
		path, body string
		status     int
		want       string
	}{
		{"/api/getItem", `{"sku": "B-7"}`, 200, `{"sku":"B-7","name":"teapot","priceCents":2900,"tags":["kitchen"]}`},
		{"/api/getItem?sku=A-2", `{}`, 200, `"name":"black tea, 250 g"`},
		{"/api/getItem", `{"sku": "nope"}`, 404, `{"message":"no item \"nope\""}`},
		{"/api/getItem", `{"sku": 5}`, 400, `"message":`},
		{"/api/searchItems", `{"query": "TEA", "maxPriceCents": 500}`, 200, `{"items":[{"sku":"A-1",`},
		{"/api/searchItems", ``, 200, `"sku":"B-7"`},
		{"/api/nosuch", `{}`, 404, ``},
	} {
		resp, err := http.Post("http://"+s.Addr()+c.path, "application/json", strings.NewReader(c.body))
		if err != nil {
			t.Fatal(err)
		}
		b, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.StatusCode != c.status || !strings.Contains(string(b), c.want) {
			t.Errorf("POST %s %s: got %d %s, want %d with %s", c.path, c.body, resp.StatusCode, b, c.status, c.want)
		}
	}
}
