package amplify

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"

	"github.com/jobwatch/jobwatch/internal/amplify/types"
)

// ListBackendJobsAPIClient is the client ListBackendJobsPaginator needs.
type ListBackendJobsAPIClient interface {
	ListBackendJobs(context.Context, *ListBackendJobsInput, ...func(*Options)) (*ListBackendJobsOutput, error)
}

// ListBackendJobsPaginatorOptions configure a ListBackendJobsPaginator.
type ListBackendJobsPaginatorOptions struct {
	// Limit is the page size, 1-25 (the service's maxResults); 0 leaves it
	// to the service.
	Limit int32

	// StopOnDuplicateToken ends paging when the service returns the token it
	// was just given, instead of asking for the same page forever. On by
	// default.
	StopOnDuplicateToken bool
}

// ListBackendJobsPaginator pages through ListBackendJobs.
type ListBackendJobsPaginator struct {
	options   ListBackendJobsPaginatorOptions
	client    ListBackendJobsAPIClient
	params    *ListBackendJobsInput
	nextToken *string
	firstPage bool
}

// NewListBackendJobsPaginator returns a paginator over ListBackendJobs for
// params; params.MaxResults, when set, is the default page size.
func NewListBackendJobsPaginator(client ListBackendJobsAPIClient, params *ListBackendJobsInput, optFns ...func(*ListBackendJobsPaginatorOptions)) *ListBackendJobsPaginator {
	if params == nil {
		params = &ListBackendJobsInput{}
	}
	options := ListBackendJobsPaginatorOptions{StopOnDuplicateToken: true}
	if params.MaxResults != nil {
		options.Limit = *params.MaxResults
	}
	for _, fn := range optFns {
		fn(&options)
	}
	return &ListBackendJobsPaginator{
		options:   options,
		client:    client,
		params:    params,
		firstPage: true,
		nextToken: params.NextToken,
	}
}

// HasMorePages reports whether another page can be fetched.
func (p *ListBackendJobsPaginator) HasMorePages() bool {
	return p.firstPage || (p.nextToken != nil && len(*p.nextToken) != 0)
}

// NextPage fetches the next page of jobs.
func (p *ListBackendJobsPaginator) NextPage(ctx context.Context, optFns ...func(*Options)) (*ListBackendJobsOutput, error) {
	if !p.HasMorePages() {
		return nil, errors.New("no more pages available")
	}
	if p.options.Limit != 0 && (p.options.Limit < 1 || p.options.Limit > 25) {
		return nil, fmt.Errorf("page size %d is out of range: ListBackendJobs returns 1-25 jobs per page", p.options.Limit)
	}
	params := *p.params
	params.NextToken = p.nextToken
	if p.options.Limit > 0 {
		limit := p.options.Limit
		params.MaxResults = &limit
	}
	result, err := p.client.ListBackendJobs(ctx, &params, optFns...)
	if err != nil {
		return nil, err
	}
	p.firstPage = false

	prevToken := p.nextToken
	p.nextToken = result.NextToken
	if p.options.StopOnDuplicateToken && prevToken != nil && p.nextToken != nil && *prevToken == *p.nextToken {
		p.nextToken = nil
	}
	return result, nil
}

// PaginationConfig is boto3's PaginationConfig: MaxItems caps the items
// returned in all, PageSize is the page size, StartingToken resumes where
// an earlier, truncated listing stopped.
type PaginationConfig struct {
	MaxItems      int
	PageSize      int32
	StartingToken string
}

// resumeToken is boto3's resume token: base64 of a JSON object carrying
// the service token and how many items of that page were already returned.
type resumeToken struct {
	NextToken      *string `json:"NextToken,omitempty"`
	TruncateAmount int     `json:"boto_truncate_amount,omitempty"`
}

func (t resumeToken) encode() string {
	b, _ := json.Marshal(t) // plain struct: cannot fail
	return base64.StdEncoding.EncodeToString(b)
}

func decodeResumeToken(s string) (resumeToken, error) {
	var t resumeToken
	b, err := base64.StdEncoding.DecodeString(s)
	if err != nil {
		return t, fmt.Errorf("invalid StartingToken: not a token from an earlier listing")
	}
	if err := json.Unmarshal(b, &t); err != nil {
		return t, fmt.Errorf("invalid StartingToken: not a token from an earlier listing")
	}
	return t, nil
}

// ListBackendJobsAll lists jobs across pages with boto3's PaginationConfig
// semantics, as its paginator's build_full_result does: at most MaxItems
// jobs (0: all), pages of PageSize, starting at StartingToken. The returned
// token resumes the listing; it is "" when the listing is complete.
func ListBackendJobsAll(ctx context.Context, client ListBackendJobsAPIClient, params *ListBackendJobsInput, cfg PaginationConfig, optFns ...func(*Options)) ([]types.BackendJobRespObj, string, error) {
	input := ListBackendJobsInput{}
	if params != nil {
		input = *params
	}
	skip := 0
	if cfg.StartingToken != "" {
		t, err := decodeResumeToken(cfg.StartingToken)
		if err != nil {
			return nil, "", err
		}
		input.NextToken = t.NextToken
		skip = t.TruncateAmount
	}
	p := NewListBackendJobsPaginator(client, &input, func(o *ListBackendJobsPaginatorOptions) {
		if cfg.PageSize != 0 {
			o.Limit = cfg.PageSize
		}
	})
	var jobs []types.BackendJobRespObj
	for p.HasMorePages() {
		pageToken := p.nextToken
		page, err := p.NextPage(ctx, optFns...)
		if err != nil {
			return jobs, "", err
		}
		items := page.Jobs
		if skip > 0 {
			items = items[min(skip, len(items)):]
		}
		if cfg.MaxItems > 0 && len(jobs)+len(items) >= cfg.MaxItems {
			take := cfg.MaxItems - len(jobs)
			jobs = append(jobs, items[:take]...)
			switch {
			case take < len(items):
				// Stopped inside this page: resume at the same page, past
				// what was already returned.
				return jobs, resumeToken{NextToken: pageToken, TruncateAmount: skip + take}.encode(), nil
			case p.HasMorePages():
				return jobs, resumeToken{NextToken: p.nextToken}.encode(), nil
			default:
				return jobs, "", nil
			}
		}
		jobs = append(jobs, items...)
		skip = 0
	}
	return jobs, "", nil
}
