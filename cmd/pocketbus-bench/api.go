package main

import (
	"bytes"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"time"
)

var httpClient = &http.Client{
	Timeout: 30 * time.Second,
	Transport: &http.Transport{
		MaxIdleConns:        256,
		MaxIdleConnsPerHost: 256,
		IdleConnTimeout:     90 * time.Second,
	},
}

// api is a REST client signed in as one user or superuser.
type api struct {
	base, token string
	ID, MyGroup string
}

func (a *api) do(method, path string, body any, out any) error {
	var rd io.Reader
	if body != nil {
		b, err := json.Marshal(body)
		if err != nil {
			return err
		}
		rd = bytes.NewReader(b)
	}
	req, err := http.NewRequest(method, a.base+path, rd)
	if err != nil {
		return err
	}
	if rd != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	if a.token != "" {
		req.Header.Set("Authorization", a.token)
	}
	resp, err := httpClient.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	raw, err := io.ReadAll(resp.Body)
	if err != nil {
		return err
	}
	if resp.StatusCode != 200 {
		return fmt.Errorf("%s %s: %d %s", method, path, resp.StatusCode, raw)
	}
	if out != nil {
		return json.Unmarshal(raw, out)
	}
	return nil
}

func randomHex(n int) string {
	b := make([]byte, n)
	rand.Read(b)
	return hex.EncodeToString(b)
}

// signUp creates a user through the public sign-up and signs them in.
func signUp(base string) (*api, error) {
	a := &api{base: base}
	email := fmt.Sprintf("bench-%s@pocketbus.test", randomHex(4))
	if err := a.do("POST", "/api/collections/users/records", map[string]any{
		"email": email, "password": "password123", "passwordConfirm": "password123", "name": "bench",
	}, nil); err != nil {
		return nil, err
	}
	var auth struct {
		Token  string `json:"token"`
		Record struct {
			ID      string `json:"id"`
			MyGroup string `json:"mygroup"`
		} `json:"record"`
	}
	if err := a.do("POST", "/api/collections/users/auth-with-password", map[string]any{"identity": email, "password": "password123"}, &auth); err != nil {
		return nil, err
	}
	a.token, a.ID, a.MyGroup = auth.Token, auth.Record.ID, auth.Record.MyGroup
	if a.MyGroup == "" {
		return nil, fmt.Errorf("signed-up user has no personal group")
	}
	return a, nil
}

// liftLimits makes u a tenant without fair-share limits (superuser-set
// fields; older binaries ignore them): the benchmark creates far more
// projects in one group than a tenant may by default.
func liftLimits(base string, u *api) error {
	su, err := superuser(base)
	if err != nil {
		return err
	}
	if err := su.do("PATCH", "/api/collections/users/records/"+u.ID, map[string]any{"max_groups": -1}, nil); err != nil {
		return err
	}
	return su.do("PATCH", "/api/collections/groups/records/"+u.MyGroup, map[string]any{"max_projects": -1, "js_share": 100}, nil)
}

// createGroup makes a group owned by a, without project limits (a
// superuser lifts them), and returns its id.
func (a *api) createGroup(name string) (string, error) {
	var g struct {
		ID string `json:"id"`
	}
	if err := a.do("POST", "/api/collections/groups/records", map[string]any{"name": name}, &g); err != nil {
		return "", err
	}
	su, err := superuser(a.base)
	if err != nil {
		return "", err
	}
	return g.ID, su.do("PATCH", "/api/collections/groups/records/"+g.ID, map[string]any{"max_projects": -1, "js_share": 100}, nil)
}

// superuser signs in as the benchmark's superuser.
func superuser(base string) (*api, error) {
	su := &api{base: base}
	var auth struct {
		Token string `json:"token"`
	}
	if err := su.do("POST", "/api/collections/_superusers/auth-with-password", map[string]any{"identity": superEmail, "password": superPass}, &auth); err != nil {
		return nil, err
	}
	su.token = auth.Token
	return su, nil
}

// accountJWT reads a project's account key and signed JWT (hidden fields,
// superusers only).
func accountJWT(base, projectID string) (pub, token string, err error) {
	su, err := superuser(base)
	if err != nil {
		return "", "", err
	}
	var p struct {
		Account    string `json:"account"`
		AccountJWT string `json:"account_jwt"`
	}
	err = su.do("GET", "/api/collections/projects/records/"+projectID, nil, &p)
	return p.Account, p.AccountJWT, err
}

type project struct {
	ID      string `json:"id"`
	Account string `json:"account"`
}

func (a *api) createProject(name string) (project, error) { return a.createProjectIn(a.MyGroup, name) }

func (a *api) createProjectIn(group, name string) (project, error) {
	var p project
	err := a.do("POST", "/api/collections/projects/records", map[string]any{"name": name, "group": group}, &p)
	if err == nil && p.Account == "" {
		err = fmt.Errorf("created project %s has no account", p.ID)
	}
	return p, err
}

type credential struct {
	ID        string `json:"id"`
	PublicKey string `json:"public_key"`
	JWT       string `json:"jwt"`
	Seed      string `json:"seed"`
}

func (a *api) issue(projectID, name string) (credential, error) {
	var c credential
	err := a.do("POST", "/api/pocketbus/projects/"+projectID+"/credentials", map[string]any{"name": name}, &c)
	if err == nil && (c.JWT == "" || c.Seed == "") {
		err = fmt.Errorf("issue returned no jwt/seed")
	}
	return c, err
}

func (a *api) revoke(credID string) error {
	return a.do("POST", "/api/pocketbus/credentials/"+credID+"/revoke", map[string]any{}, nil)
}
