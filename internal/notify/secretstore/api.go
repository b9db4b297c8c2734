package secretstore

import "context"

// GetParameterInput names the SSM parameter to read.
type GetParameterInput struct {
	Name string `json:"Name"`
	// WithDecryption returns a SecureString's value in clear.
	WithDecryption bool `json:"WithDecryption"`
}

// GetParameterOutput holds the parameter read.
type GetParameterOutput struct {
	Parameter *Parameter `json:"Parameter"`
}

// Parameter is an SSM parameter.
type Parameter struct {
	Name string `json:"Name"`
	// Type is String, StringList or SecureString.
	Type  string `json:"Type"`
	Value string `json:"Value"`
}

// ParameterTypeSecureString is the type of an encrypted parameter.
const ParameterTypeSecureString = "SecureString"

// GetParameter reads an SSM parameter (ssm:GetParameter).
func (c *Client) GetParameter(ctx context.Context, in *GetParameterInput) (*GetParameterOutput, error) {
	out := &GetParameterOutput{}
	if err := c.call(ctx, ssmService, "GetParameter", in, out); err != nil {
		return nil, err
	}
	return out, nil
}

// GetSecretValueInput names the secret to read: its name or ARN.
type GetSecretValueInput struct {
	SecretID string `json:"SecretId"`
}

// GetSecretValueOutput holds the secret's current value.
type GetSecretValueOutput struct {
	// SecretString is the value of a text secret; nil for a binary one.
	SecretString *string `json:"SecretString"`
}

// GetSecretValue reads a Secrets Manager secret's current value
// (secretsmanager:GetSecretValue).
func (c *Client) GetSecretValue(ctx context.Context, in *GetSecretValueInput) (*GetSecretValueOutput, error) {
	out := &GetSecretValueOutput{}
	if err := c.call(ctx, secretsManagerService, "GetSecretValue", in, out); err != nil {
		return nil, err
	}
	return out, nil
}
