package dubbo

import "encoding/binary"

// javaOut writes Hessian 2 the way Java's Hessian2Output (Dubbo's
// hessian-lite) does: the shortest form of each int and string, a class
// definition before the first object of a class, list types written once
// and then referred to by index, and every object, list and array
// counted for back references.
type javaOut struct {
	b       []byte
	types   map[string]int
	classes map[string]int
}

func newJavaOut() *javaOut {
	return &javaOut{types: map[string]int{}, classes: map[string]int{}}
}

func (o *javaOut) null() { o.b = append(o.b, 'N') }

func (o *javaOut) int(v int32) {
	switch {
	case v >= -0x10 && v <= 0x2f:
		o.b = append(o.b, byte(v+0x90))
	case v >= -0x800 && v <= 0x7ff:
		o.b = append(o.b, byte(0xc8+(v>>8)), byte(v))
	case v >= -0x40000 && v <= 0x3ffff:
		o.b = append(o.b, byte(0xd4+(v>>16)), byte(v>>8), byte(v))
	default:
		o.b = append(o.b, 'I')
		o.b = binary.BigEndian.AppendUint32(o.b, uint32(v))
	}
}

// str writes an ASCII string (all these tests need).
func (o *javaOut) str(s string) {
	switch n := len(s); {
	case n < 32:
		o.b = append(o.b, byte(n))
	case n < 1024:
		o.b = append(o.b, byte(0x30+(n>>8)), byte(n))
	default:
		o.b = append(o.b, 'S', byte(n>>8), byte(n))
	}
	o.b = append(o.b, s...)
}

func (o *javaOut) typ(t string) {
	if i, ok := o.types[t]; ok {
		o.int(int32(i))
		return
	}
	o.types[t] = len(o.types)
	o.str(t)
}

// object starts an object of class name, defining the class first if
// this stream has not.
func (o *javaOut) object(name string, fields ...string) {
	i, ok := o.classes[name]
	if !ok {
		i = len(o.classes)
		o.classes[name] = i
		o.b = append(o.b, 'C')
		o.str(name)
		o.int(int32(len(fields)))
		for _, f := range fields {
			o.str(f)
		}
	}
	o.b = append(o.b, byte(0x60+i))
}

// list starts a fixed-length typed list (a Java array or collection).
func (o *javaOut) list(n int, typ string) {
	o.b = append(o.b, byte(0x70+n))
	o.typ(typ)
}

func (o *javaOut) ref(i int) {
	o.b = append(o.b, 0x51)
	o.int(int32(i))
}

// stackTraceElement writes a JDK 11+ java.lang.StackTraceElement: all its
// non-transient fields, in declaration order.
func (o *javaOut) stackTraceElement(class, method, file string, line int32) {
	o.object("java.lang.StackTraceElement", "classLoaderName", "moduleName", "moduleVersion",
		"declaringClass", "methodName", "fileName", "lineNumber", "format")
	o.str("app")
	o.null()
	o.null()
	o.str(class)
	o.str(method)
	o.str(file)
	o.int(line)
	o.int(0)
}

// bizException writes
//
//	package com.example;
//	public class BizException extends RuntimeException {
//	    private final int code;
//	    public BizException(int code, String message) { super(message); this.code = code; }
//	}
//
// thrown as new BizException(4001, "insufficient balance") from
// AccountService.debit. Hessian's JavaSerializer lists the fields of the
// class, then of its superclasses, primitive and java.lang-typed ones
// first: code, detailMessage, cause (still the exception itself, so a
// back reference), then stackTrace and suppressedExceptions (Throwable's
// shared empty SUPPRESSED_SENTINEL, an unmodifiable list). self is the
// reference number the exception gets; sentinel is the one of the
// sentinel list when already written, else -1.
func (o *javaOut) bizException(self, sentinel int) {
	o.object("com.example.BizException", "code", "detailMessage", "cause", "stackTrace", "suppressedExceptions")
	o.int(4001)
	o.str("insufficient balance")
	o.ref(self)
	o.list(2, "[java.lang.StackTraceElement")
	o.stackTraceElement("com.example.AccountService", "debit", "AccountService.java", 42)
	o.stackTraceElement("com.example.AccountFacade", "pay", "AccountFacade.java", 17)
	if sentinel >= 0 {
		o.ref(sentinel)
	} else {
		o.list(0, "java.util.Collections$UnmodifiableRandomAccessList")
	}
}

// JavaBizExceptionReply is the body of the reply a Java Dubbo provider
// sends (to a client of Dubbo 2.0.2 or later, so with attachments) when
// its method throws com.example.BizException. wrapped: thrown from a
// generic call, where Dubbo's GenericFilter wraps it in
// com.alibaba.dubbo.rpc.service.GenericException(cause), whose fields are
// exceptionClass, exceptionMessage and Throwable's, the original being
// the cause.
func JavaBizExceptionReply(wrapped bool) []byte {
	o := newJavaOut()
	o.int(3) // RESPONSE_WITH_EXCEPTION_WITH_ATTACHMENTS
	if !wrapped {
		// References: 0 the exception, 1 its stack trace array, 2 and 3
		// the elements, 4 the sentinel list.
		o.bizException(0, -1)
	} else {
		o.object("com.alibaba.dubbo.rpc.service.GenericException", "exceptionClass", "exceptionMessage",
			"detailMessage", "cause", "stackTrace", "suppressedExceptions") // reference 0
		o.str("com.example.BizException")
		o.str("insufficient balance")
		o.str("com.example.BizException: insufficient balance\n\tat com.example.AccountService.debit(AccountService.java:42)\n")
		// The cause: references 1 (itself), 2 (stack trace), 3 and 4
		// (elements), 5 (the sentinel).
		o.bizException(1, -1)
		o.list(1, "[java.lang.StackTraceElement") // reference 6
		o.stackTraceElement("org.apache.dubbo.rpc.filter.GenericFilter", "onResponse", "GenericFilter.java", 260)
		o.ref(5) // the same sentinel
	}
	o.b = append(o.b, 'H')
	o.str("dubbo")
	o.str("2.0.2")
	o.b = append(o.b, 'Z')
	return o.b
}
