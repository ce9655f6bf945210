package api

import (
	"net/http"

	"github.com/elbowlb/elbow/internal/elb/api/awserr"
	"github.com/elbowlb/elbow/internal/elb/api/sigv4"
)

// AWS's wording of the errors the endpoint itself returns. Sources: AWS
// common error pages (CommonErrors of each API reference), the IAM
// "Troubleshoot signed requests" page, and error bodies quoted in public
// SDK issues (see docs/elb-api.md).
const (
	msgMissingToken      = "Request is missing Authentication Token"
	msgInvalidToken      = "The security token included in the request is invalid."
	msgEC2AuthFailure    = "AWS was not able to validate the provided access credentials"
	msgEC2Expired        = "Request has expired."
	msgEC2MissingKey     = "The request must contain the parameter AWSAccessKeyId"
	msgInternalFailure   = "The request processing has failed because of an unknown error, exception or failure."
	msgEC2InternalError  = "An internal error has occurred. Retry your request, but if the problem persists, contact us with details by posting a message on the AWS forums."
	msgThrottled         = "Rate exceeded"
	msgEC2Throttled      = "Request limit exceeded."
	msgCorrectServiceFmt = "Credential should be scoped to correct service: '%s'. "
)

// authError turns a signature failure into the error the protocol's AWS
// services answer.
//
//	             awsQuery (ELBv2, STS)               ec2Query                       JSON 1.1
//	missing      MissingAuthenticationToken 403      MissingParameter 400           MissingAuthenticationTokenException 400
//	malformed    IncompleteSignature 400             IncompleteSignature 400        IncompleteSignatureException 400
//	unknown key  InvalidClientTokenId 403            AuthFailure 401                UnrecognizedClientException 400
//	bad sig      SignatureDoesNotMatch 403           AuthFailure 401                InvalidSignatureException 400
//	clock skew   SignatureDoesNotMatch 403 (wording) RequestExpired 400             InvalidSignatureException 400 (wording)
//	region/svc   SignatureDoesNotMatch 403 (wording) AuthFailure 401                InvalidSignatureException 400 (wording)
func authError(p Protocol, e *sigv4.Error) *awserr.Error {
	switch p {
	case EC2Query:
		switch e.Kind {
		case sigv4.Missing:
			return awserr.New("MissingParameter", msgEC2MissingKey)
		case sigv4.Incomplete:
			return awserr.New("IncompleteSignature", "%s", e.Message)
		case sigv4.Expired, sigv4.NotYetCurrent:
			return awserr.New("RequestExpired", msgEC2Expired)
		default:
			return awserr.WithStatus(http.StatusUnauthorized, "AuthFailure", msgEC2AuthFailure)
		}
	case JSON11:
		switch e.Kind {
		case sigv4.Missing:
			return awserr.New("MissingAuthenticationTokenException", msgMissingToken)
		case sigv4.Incomplete:
			return awserr.New("IncompleteSignatureException", "%s", e.Message)
		case sigv4.UnknownKey:
			return awserr.New("UnrecognizedClientException", msgInvalidToken)
		default:
			return awserr.New("InvalidSignatureException", "%s", e.Message)
		}
	default:
		switch e.Kind {
		case sigv4.Missing:
			return awserr.WithStatus(http.StatusForbidden, "MissingAuthenticationToken", msgMissingToken)
		case sigv4.Incomplete:
			return awserr.New("IncompleteSignature", "%s", e.Message)
		case sigv4.UnknownKey:
			return awserr.WithStatus(http.StatusForbidden, "InvalidClientTokenId", msgInvalidToken)
		default:
			return awserr.WithStatus(http.StatusForbidden, "SignatureDoesNotMatch", "%s", e.Message)
		}
	}
}

// throttleError is the protocol's throttling error; the SDK's retryer
// classifies each of these codes as a throttle.
func throttleError(p Protocol) *awserr.Error {
	switch p {
	case EC2Query:
		return awserr.WithStatus(http.StatusServiceUnavailable, "RequestLimitExceeded", msgEC2Throttled)
	case JSON11:
		return awserr.New("ThrottlingException", msgThrottled)
	default:
		return awserr.New("Throttling", msgThrottled)
	}
}

// accessDenied is the protocol's answer to a request IAM refuses, with
// IAM's message: ELBv2 and STS (awsQuery) AccessDenied, EC2
// UnauthorizedOperation (both 403), the JSON services
// AccessDeniedException (400).
func accessDenied(p Protocol, message string) *awserr.Error {
	switch p {
	case EC2Query:
		return awserr.WithStatus(http.StatusForbidden, "UnauthorizedOperation", "You are not authorized to perform this operation. %s", message)
	case JSON11:
		return awserr.New("AccessDeniedException", "%s", message)
	default:
		return awserr.WithStatus(http.StatusForbidden, "AccessDenied", "%s", message)
	}
}

// internalError is the protocol's generic server failure.
func internalError(p Protocol) *awserr.Error {
	if p == EC2Query {
		return &awserr.Error{Code: "InternalError", Message: msgEC2InternalError, Status: http.StatusInternalServerError, Receiver: true}
	}
	return &awserr.Error{Code: "InternalFailure", Message: msgInternalFailure, Status: http.StatusInternalServerError, Receiver: true}
}

// codeServiceUnavailable is the code of the errors a service returns when
// it cannot serve for now (the local ELB's state refusing writes, say).
const codeServiceUnavailable = "ServiceUnavailable"

// unavailableError is the protocol's "temporarily unavailable" error for
// e (a ServiceUnavailable): AWS's common error ServiceUnavailable (503),
// Unavailable (503) in EC2, keeping e's message.
func unavailableError(p Protocol, e *awserr.Error) *awserr.Error {
	code := codeServiceUnavailable
	if p == EC2Query {
		code = "Unavailable"
	}
	return &awserr.Error{Code: code, Message: e.Message, Status: http.StatusServiceUnavailable, Receiver: true}
}

// tooLargeError is the protocol's error for a body over the bound.
func tooLargeError(p Protocol, limit int64) *awserr.Error {
	code := "RequestEntityTooLarge"
	if p == JSON11 {
		code = "RequestEntityTooLargeException"
	}
	return awserr.WithStatus(http.StatusRequestEntityTooLarge, code, "The request body is larger than %d bytes.", limit)
}
