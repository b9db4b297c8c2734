package amplify_test

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"sync"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"

	"github.com/jobwatch/jobwatch/internal/amplify"
)

// jobsServer serves ListBackendJobs over n jobs j0..j(n-1), paging with an
// opaque token; repeatToken makes it hand back the token it was given.
type jobsServer struct {
	n           int
	repeatToken bool
	mu          sync.Mutex
	pageSizes   []int
}

func (s *jobsServer) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	var req struct {
		MaxResults int    `json:"maxResults"`
		NextToken  string `json:"nextToken"`
	}
	_ = json.NewDecoder(r.Body).Decode(&req)
	size := req.MaxResults
	if size == 0 {
		size = 25
	}
	s.mu.Lock()
	s.pageSizes = append(s.pageSizes, req.MaxResults)
	s.mu.Unlock()
	start := 0
	if req.NextToken != "" {
		start, _ = strconv.Atoi(strings.TrimPrefix(req.NextToken, "tok-"))
	}
	end := min(start+size, s.n)
	type job struct {
		JobID string `json:"jobId"`
	}
	resp := struct {
		Jobs      []job  `json:"jobs"`
		NextToken string `json:"nextToken,omitempty"`
	}{}
	for i := start; i < end; i++ {
		resp.Jobs = append(resp.Jobs, job{fmt.Sprintf("j%d", i)})
	}
	if end < s.n {
		resp.NextToken = fmt.Sprintf("tok-%d", end)
		if s.repeatToken && req.NextToken != "" {
			resp.NextToken = req.NextToken
		}
	}
	_ = json.NewEncoder(w).Encode(resp)
}

func listInput() *amplify.ListBackendJobsInput {
	return &amplify.ListBackendJobsInput{AppId: aws.String("d1"), BackendEnvironmentName: aws.String("dev")}
}

func TestListBackendJobsPaginator(t *testing.T) {
	tests := map[string]struct {
		jobs, limit  int
		repeat       bool
		wantPages    int
		wantJobs     int
		wantPageSize int
	}{
		"several pages":             {jobs: 7, limit: 3, wantPages: 3, wantJobs: 7, wantPageSize: 3},
		"exact pages":               {jobs: 6, limit: 3, wantPages: 2, wantJobs: 6, wantPageSize: 3},
		"service default page size": {jobs: 30, wantPages: 2, wantJobs: 30},
		"empty":                     {jobs: 0, limit: 5, wantPages: 1, wantJobs: 0, wantPageSize: 5},
		"repeated token stops":      {jobs: 10, limit: 2, repeat: true, wantPages: 2, wantJobs: 4, wantPageSize: 2},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			js := &jobsServer{n: tc.jobs, repeatToken: tc.repeat}
			srv := httptest.NewServer(js)
			defer srv.Close()
			p := amplify.NewListBackendJobsPaginator(newTestClient(srv.URL), listInput(), func(o *amplify.ListBackendJobsPaginatorOptions) {
				o.Limit = int32(tc.limit)
			})
			pages, jobs := 0, 0
			for p.HasMorePages() {
				out, err := p.NextPage(context.Background())
				if err != nil {
					t.Fatal(err)
				}
				pages++
				jobs += len(out.Jobs)
				if pages > 20 {
					t.Fatal("paginator does not stop")
				}
			}
			if pages != tc.wantPages || jobs != tc.wantJobs {
				t.Errorf("pages, jobs = %d, %d; want %d, %d", pages, jobs, tc.wantPages, tc.wantJobs)
			}
			for _, got := range js.pageSizes {
				if got != tc.wantPageSize {
					t.Errorf("maxResults sent = %d, want %d", got, tc.wantPageSize)
				}
			}
		})
	}
}

func TestPaginatorRefusesBadPageSize(t *testing.T) {
	for _, limit := range []int32{-1, 26} {
		p := amplify.NewListBackendJobsPaginator(newTestClient("http://127.0.0.1:1"), listInput(), func(o *amplify.ListBackendJobsPaginatorOptions) { o.Limit = limit })
		if _, err := p.NextPage(context.Background()); err == nil || !strings.Contains(err.Error(), "1-25") {
			t.Errorf("limit %d: err = %v", limit, err)
		}
	}
}

// TestListBackendJobsAll checks boto3's PaginationConfig semantics: MaxItems
// stops mid-page with a resume token, and StartingToken resumes exactly
// where the listing stopped, across page boundaries.
func TestListBackendJobsAll(t *testing.T) {
	srv := httptest.NewServer(&jobsServer{n: 11})
	defer srv.Close()
	c := newTestClient(srv.URL)

	var all []string
	token := ""
	for range 10 {
		jobs, next, err := amplify.ListBackendJobsAll(context.Background(), c, listInput(), amplify.PaginationConfig{MaxItems: 4, PageSize: 3, StartingToken: token})
		if err != nil {
			t.Fatal(err)
		}
		for _, j := range jobs {
			all = append(all, aws.ToString(j.JobId))
		}
		if next == "" {
			break
		}
		token = next
	}
	want := "j0 j1 j2 j3 j4 j5 j6 j7 j8 j9 j10"
	if got := strings.Join(all, " "); got != want {
		t.Errorf("jobs in resumed chunks of 4 = %s, want %s", got, want)
	}

	if _, _, err := amplify.ListBackendJobsAll(context.Background(), c, listInput(), amplify.PaginationConfig{StartingToken: "not-a-token"}); err == nil {
		t.Error("a bad StartingToken was accepted")
	}
}
