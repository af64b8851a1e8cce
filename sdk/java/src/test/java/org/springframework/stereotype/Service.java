package org.springframework.stereotype;

import java.lang.annotation.ElementType;
import java.lang.annotation.Retention;
import java.lang.annotation.RetentionPolicy;
import java.lang.annotation.Target;

// A stand-in with the name and attributes of the Spring annotation, so
// that the scanner is tested without Spring (it reads annotations by name).
// Spring's @Service is not Dubbo's: the scanner must ignore it.
@Target(ElementType.TYPE)
@Retention(RetentionPolicy.RUNTIME)
public @interface Service {
    String value() default "";
}
