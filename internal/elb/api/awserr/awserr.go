// Package awserr is the error type of the local ELB's services. Every
// service returns *Error for anything the client did wrong (or that AWS
// reports as an error), and the wire codecs render it in the protocol's
// error shape with Code, Message and HTTP status.
package awserr

import (
	"errors"
	"fmt"
	"net/http"
)

// Error is an AWS API error.
type Error struct {
	// Code is AWS's error code, for example "ValidationError" or
	// "LoadBalancerNotFound".
	Code string
	// Message is the human-readable text, in AWS's wording where documented.
	Message string
	// Status is the HTTP status; 0 means 400.
	Status int
	// Receiver marks a server-side fault ("Receiver" in Query errors);
	// false is "Sender".
	Receiver bool
}

func (e *Error) Error() string { return e.Code + ": " + e.Message }

// HTTPStatus returns the status to send, 400 when unset.
func (e *Error) HTTPStatus() int {
	if e.Status == 0 {
		return http.StatusBadRequest
	}
	return e.Status
}

// New returns a client (Sender) error with status 400.
func New(code, format string, args ...any) *Error {
	return &Error{Code: code, Message: fmt.Sprintf(format, args...)}
}

// WithStatus returns a client error with the given HTTP status.
func WithStatus(status int, code, format string, args ...any) *Error {
	return &Error{Code: code, Message: fmt.Sprintf(format, args...), Status: status}
}

// Validation returns a ValidationError, the code ELBv2 and many other
// services use for malformed parameters.
func Validation(format string, args ...any) *Error {
	return New("ValidationError", format, args...)
}

// Internal wraps an unexpected server-side failure as InternalFailure (500).
// The cause is kept in the message so that it reaches the log; clients see
// a generic message.
func Internal(err error) *Error {
	return &Error{Code: "InternalFailure", Message: "internal error: " + err.Error(), Status: http.StatusInternalServerError, Receiver: true}
}

// As returns the *Error in err's chain, or an InternalFailure wrapping err.
func As(err error) *Error {
	var e *Error
	if errors.As(err, &e) {
		return e
	}
	return Internal(err)
}

// Is reports whether err carries an AWS error with the given code.
func Is(err error, code string) bool {
	var e *Error
	return errors.As(err, &e) && e.Code == code
}
