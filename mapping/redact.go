package mapping

import (
	"bytes"
	"strings"

	"gopkg.in/yaml.v3"
)

// Redacted replaces secrets in the config the control plane shows.
const Redacted = "<redacted>"

// Redact returns the YAML text with the value of every secret key (API
// keys, tokens, secrets, passwords) replaced by "<redacted>". Keys that
// name where a secret is kept (key_env, admin_token_env, secret_env) and
// file paths stay. Text that does not parse comes back as a short notice,
// never as itself.
func Redact(raw []byte) []byte {
	if len(bytes.TrimSpace(raw)) == 0 {
		return raw
	}
	var doc yaml.Node
	if err := yaml.Unmarshal(raw, &doc); err != nil {
		return []byte("# the config text could not be parsed for redaction\n")
	}
	redactNode(&doc)
	var out bytes.Buffer
	enc := yaml.NewEncoder(&out)
	enc.SetIndent(2)
	if err := enc.Encode(&doc); err != nil {
		return []byte("# the config text could not be written after redaction\n")
	}
	return out.Bytes()
}

func redactNode(n *yaml.Node) {
	switch n.Kind {
	case yaml.DocumentNode, yaml.SequenceNode:
		for _, c := range n.Content {
			redactNode(c)
		}
	case yaml.MappingNode:
		for i := 0; i+1 < len(n.Content); i += 2 {
			k, v := n.Content[i], n.Content[i+1]
			if secretKey(k.Value) {
				hideValue(v)
				continue
			}
			if k.Value == "otlp" {
				// An exporter's headers carry its credentials.
				for j := 0; j+1 < len(v.Content); j += 2 {
					if v.Content[j].Value == "headers" {
						hideValues(v.Content[j+1])
					}
				}
			}
			redactNode(v)
		}
	case yaml.AliasNode:
		// An alias repeats a node redacted where it is defined.
	}
}

// hideValues hides every value of a mapping, keeping its keys.
func hideValues(m *yaml.Node) {
	if m.Kind != yaml.MappingNode {
		hideValue(m)
		return
	}
	for i := 1; i < len(m.Content); i += 2 {
		hideValue(m.Content[i])
	}
}

// hideValue replaces a secret's value, whatever its shape.
func hideValue(v *yaml.Node) {
	switch v.Kind {
	case yaml.ScalarNode:
		if v.Value != "" {
			v.Value, v.Tag, v.Style = Redacted, "!!str", 0
		}
	default:
		for _, c := range v.Content {
			hideValue(c)
		}
	}
	v.LineComment, v.HeadComment, v.FootComment = "", "", ""
}

func secretKey(k string) bool {
	k = strings.ToLower(k)
	if strings.HasSuffix(k, "_env") || strings.HasSuffix(k, "_file") {
		return false
	}
	switch k {
	case "key", "secret", "password", "token", "admin_token", "hs_secret", "api_key", "passphrase":
		return true
	}
	return strings.HasSuffix(k, "_token") || strings.HasSuffix(k, "_secret") || strings.HasSuffix(k, "_password")
}
