package org.springframework.web.bind.annotation;

import java.lang.annotation.ElementType;
import java.lang.annotation.Retention;
import java.lang.annotation.RetentionPolicy;
import java.lang.annotation.Target;

// A stand-in with the name and attributes of the Spring annotation, so
// that the scanner is tested without Spring (it reads annotations by name).
@Target(ElementType.METHOD)
@Retention(RetentionPolicy.RUNTIME)
@RequestMapping(method = RequestMethod.GET)
public @interface GetMapping {
    String name() default "";

    String[] value() default {};

    String[] path() default {};
}
