package dubbo

import (
	"sync"

	"dubbo.apache.org/dubbo-go/v3/common/constant"
	"dubbo.apache.org/dubbo-go/v3/protocol/dubbo/impl"
	hessian "github.com/apache/dubbo-go-hessian2"
)

// javaException is an exception a provider threw, as this adapter knows
// it: its Java class, its message, and the fields its class adds to
// Throwable's (nil when none).
type javaException struct {
	class   string
	message string
	fields  map[any]any // plain values, as appendJSON writes them
	err     error       // what dubbo-go made of the reply, when read from it
	// attachments are the reply's, as dubbo-go read them (the dubbo-go
	// engine; the direct engine reads them itself).
	attachments map[string]any
}

func (e *javaException) Error() string {
	if e.message == "" {
		return e.class
	}
	return e.class + ": " + e.message
}

func (e *javaException) Unwrap() error { return e.err }

// throwableFields are java.lang.Throwable's own serialised fields: the
// message is reported on its own, the rest is not the application's.
var throwableFields = map[string]bool{
	"detailMessage": true, "cause": true, "stackTrace": true, "suppressedExceptions": true,
}

// genericExceptionClasses wrap the exception a generic call caused
// (exceptionClass, exceptionMessage, and the original as cause).
var genericExceptionClasses = map[string]bool{
	"com.alibaba.dubbo.rpc.service.GenericException": true,
	apacheGenericException:                           true,
}

// Dubbo reply body types whose value is an exception.
const (
	responseWithException                = 0
	responseWithExceptionWithAttachments = 3
)

// readJavaException reads the exception of a Dubbo reply body (Hessian 2:
// the reply type, then the exception object) with its class name and
// fields, whether or not this process knows the class. ok is false when
// the body holds no exception object.
func readJavaException(body []byte) (*javaException, bool) {
	r := &hessianReader{b: body}
	kind, err := r.read()
	if err != nil {
		return nil, false
	}
	if k, _ := kind.(int32); k != responseWithException && k != responseWithExceptionWithAttachments {
		return nil, false
	}
	v, err := r.read()
	if err != nil {
		return nil, false
	}
	return exceptionOfObject(v)
}

// exceptionOfObject interprets an exception object. A GenericException
// wrapper names the original class and message; the fields are the
// original's when it came along as the cause.
func exceptionOfObject(v any) (*javaException, bool) {
	o, ok := v.(*hobject)
	if !ok || o.class == "" {
		return nil, false
	}
	e := &javaException{class: o.class}
	e.message, _ = o.field("detailMessage").(string)
	if genericExceptionClasses[o.class] {
		cls, _ := o.field("exceptionClass").(string)
		if cls == "" {
			return nil, false
		}
		e.class = cls
		e.message, _ = o.field("exceptionMessage").(string)
		cause, _ := o.field("cause").(*hobject)
		if cause == nil || cause == o || cause.class != cls {
			return e, true
		}
		o = cause
	}
	for i, f := range o.fields {
		if throwableFields[f] {
			continue
		}
		if e.fields == nil {
			e.fields = map[any]any{}
		}
		e.fields[f] = plainValue(o.values[i], map[any]bool{o: true})
	}
	return e, true
}

// plainValue turns what hessianReader read into the values appendJSON
// writes: objects become maps holding their class under hessian.ClassKey
// (so that BigDecimal, BigInteger and enums read as in replies), lists
// slices. A value that contains itself is cut there (null).
func plainValue(v any, open map[any]bool) any {
	switch x := v.(type) {
	case *hobject:
		if len(x.fields) == 1 && x.fields[0] == "name" {
			// An enum constant: its name, as hessian2 decodes an enum
			// of a registered class.
			if name, ok := x.values[0].(string); ok {
				return name
			}
		}
		if open[x] {
			return nil
		}
		open[x] = true
		defer delete(open, x)
		m := make(map[any]any, len(x.fields)+1)
		m[hessian.ClassKey] = x.class
		for i, f := range x.fields {
			m[f] = plainValue(x.values[i], open)
		}
		return m
	case *hlist:
		if open[x] {
			return nil
		}
		open[x] = true
		defer delete(open, x)
		out := make([]any, len(x.items))
		for i, it := range x.items {
			out[i] = plainValue(it, open)
		}
		return out
	case *hmap:
		if open[x] {
			return nil
		}
		open[x] = true
		defer delete(open, x)
		out := make(map[any]any, len(x.keys))
		for i, k := range x.keys {
			pk := plainValue(k, open)
			switch pk.(type) {
			case map[any]any, []any, []byte:
				// Not comparable: keyed by its JSON text.
				b, err := appendJSON(nil, pk, false, 0)
				if err != nil {
					continue
				}
				pk = string(b)
			}
			out[pk] = plainValue(x.vals[i], open)
		}
		return out
	}
	return v
}

// exceptionSerializer is dubbo-go's Hessian 2 serializer, which also
// reads the exception of a reply itself: hessian2 decodes an exception of
// a class this process has not registered into a placeholder that keeps
// neither the class name nor the fields.
type exceptionSerializer struct {
	impl.Serializer
}

func (s exceptionSerializer) Unmarshal(body []byte, p *impl.DubboPackage) error {
	err := s.Serializer.Unmarshal(body, p)
	if err != nil || p.IsRequest() || p.IsHeartBeat() {
		return err
	}
	rp, ok := p.Body.(*impl.ResponsePayload)
	if !ok || rp.Exception == nil {
		return nil
	}
	if e, ok := readJavaException(body); ok {
		e.err = rp.Exception
		e.attachments = rp.Attachments
		rp.Exception = e
	}
	return nil
}

// installExceptionReader puts exceptionSerializer in front of dubbo-go's
// Hessian 2 serializer. dubbo-go keeps serializers in a process-wide map
// written without a lock, so this is done once, from the first New:
// before any Dubbo connection of this process exists.
var installExceptionReader = sync.OnceFunc(func() {
	cur, err := impl.GetSerializerById(constant.SHessian2)
	if err != nil {
		return
	}
	if _, done := cur.(exceptionSerializer); !done {
		impl.SetSerializer(constant.Hessian2Serialization, exceptionSerializer{cur})
	}
})
