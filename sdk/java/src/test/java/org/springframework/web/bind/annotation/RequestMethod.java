package org.springframework.web.bind.annotation;

// A stand-in with the name and attributes of the Spring annotation, so
// that the scanner is tested without Spring (it reads annotations by name).
public enum RequestMethod {
    GET, HEAD, POST, PUT, PATCH, DELETE, OPTIONS, TRACE
}
