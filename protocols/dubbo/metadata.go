package dubbo

import (
	"encoding/json"
	"fmt"
	"strconv"
	"strings"
)

// serviceDefinition is the part of Java Dubbo's gson-serialised
// org.apache.dubbo.metadata.definition.model.FullServiceDefinition (or
// ServiceDefinition) that carries method signatures, as providers store
// it in a metadata report.
type serviceDefinition struct {
	CanonicalName string             `json:"canonicalName"`
	Methods       []methodDefinition `json:"methods"`
}

type methodDefinition struct {
	Name           string   `json:"name"`
	ParameterTypes []string `json:"parameterTypes"`
	ReturnType     string   `json:"returnType"`
}

// ParseServiceDefinition reads a service definition from a Dubbo metadata
// report: methods with their parameterTypes and returnType, several
// entries for an overloaded method. Java keeps no parameter names there,
// so the parameters are named arg0..argN.
func ParseServiceDefinition(data []byte) (map[string][]Method, error) {
	var def serviceDefinition
	if err := json.Unmarshal(data, &def); err != nil {
		return nil, fmt.Errorf("dubbo: service definition is not valid JSON: %w", err)
	}
	if def.Methods == nil {
		return nil, fmt.Errorf("dubbo: service definition has no \"methods\"")
	}
	out := make(map[string][]Method, len(def.Methods))
	for i, md := range def.Methods {
		if strings.TrimSpace(md.Name) == "" {
			return nil, fmt.Errorf("dubbo: service definition: methods[%d] has no name", i)
		}
		m := Method{Params: make([]Param, len(md.ParameterTypes)), Returns: md.ReturnType}
		for j, t := range md.ParameterTypes {
			if strings.TrimSpace(t) == "" {
				return nil, fmt.Errorf("dubbo: service definition: method %q parameter %d has no type", md.Name, j)
			}
			m.Params[j] = Param{Name: "arg" + strconv.Itoa(j), Type: t}
		}
		out[md.Name] = append(out[md.Name], m)
	}
	return out, nil
}
