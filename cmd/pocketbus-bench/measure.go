package main

import (
	"context"
	"errors"
	"fmt"
	"math"
	"sort"
	"sync"
	"sync/atomic"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
)

// pubSub sends count messages of size bytes from one connection to one
// subscriber on another and returns messages per second, timed from the
// first publish to the subscriber receiving the last message.
func pubSub(url string, opts []nats.Option, size, count int) (float64, error) {
	var asyncErr atomic.Value
	opts = append([]nats.Option{nats.NoReconnect(), nats.ErrorHandler(func(_ *nats.Conn, _ *nats.Subscription, err error) {
		asyncErr.Store(err)
	})}, opts...)
	sc, err := nats.Connect(url, opts...)
	if err != nil {
		return 0, fmt.Errorf("subscriber connect: %w", err)
	}
	defer sc.Close()
	pc, err := nats.Connect(url, opts...)
	if err != nil {
		return 0, fmt.Errorf("publisher connect: %w", err)
	}
	defer pc.Close()
	subj := "bench.msg." + randomHex(4)
	done := make(chan time.Time, 1)
	var n int64
	sub, err := sc.Subscribe(subj, func(*nats.Msg) {
		if atomic.AddInt64(&n, 1) == int64(count) {
			done <- time.Now()
		}
	})
	if err != nil {
		return 0, err
	}
	sub.SetPendingLimits(-1, -1)
	if err := sc.Flush(); err != nil {
		return 0, err
	}
	payload := make([]byte, size)
	start := time.Now()
	for i := 0; i < count; i++ {
		if err := pc.Publish(subj, payload); err != nil {
			return 0, fmt.Errorf("publish: %w", err)
		}
	}
	if err := pc.FlushTimeout(60 * time.Second); err != nil {
		return 0, err
	}
	select {
	case end := <-done:
		return float64(count) / end.Sub(start).Seconds(), nil
	case <-time.After(120 * time.Second):
		e, _ := asyncErr.Load().(error)
		return 0, fmt.Errorf("subscriber got %d of %d messages (async error: %v)", atomic.LoadInt64(&n), count, e)
	}
}

// jsPublish async-publishes count messages of size bytes into a fresh file
// stream (R1) and returns messages per second until every ack arrived.
func jsPublish(url string, opts []nats.Option, size, count int) (float64, error) {
	nc, err := nats.Connect(url, append([]nats.Option{nats.NoReconnect()}, opts...)...)
	if err != nil {
		return 0, err
	}
	defer nc.Close()
	var pubErrs atomic.Int64
	js, err := jetstream.New(nc, jetstream.WithPublishAsyncErrHandler(func(jetstream.JetStream, *nats.Msg, error) {
		pubErrs.Add(1)
	}), jetstream.WithPublishAsyncMaxPending(4000))
	if err != nil {
		return 0, err
	}
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	name := "BENCH_" + randomHex(4)
	subj := "bench.js." + name
	stream, err := js.CreateStream(ctx, jetstream.StreamConfig{
		Name: name, Subjects: []string{subj}, Storage: jetstream.FileStorage, Replicas: 1,
	})
	if err != nil {
		return 0, fmt.Errorf("create stream: %w", err)
	}
	defer js.DeleteStream(context.Background(), name)
	payload := make([]byte, size)
	start := time.Now()
	for i := 0; i < count; i++ {
		if _, err := js.PublishAsync(subj, payload); err != nil {
			return 0, fmt.Errorf("publish async: %w", err)
		}
	}
	select {
	case <-js.PublishAsyncComplete():
	case <-ctx.Done():
		return 0, errors.New("timed out waiting for publish acks")
	}
	elapsed := time.Since(start)
	if e := pubErrs.Load(); e > 0 {
		return 0, fmt.Errorf("%d publishes failed", e)
	}
	info, err := stream.Info(ctx)
	if err != nil {
		return 0, err
	}
	if info.State.Msgs != uint64(count) {
		return 0, fmt.Errorf("stream holds %d messages, want %d", info.State.Msgs, count)
	}
	return float64(count) / elapsed.Seconds(), nil
}

// parallel runs total calls of fn over workers goroutines and returns calls
// per second and each call's latency. The first error stops the run.
func parallel(workers, total int, fn func(i int) error) (rate float64, lat []time.Duration, err error) {
	var next atomic.Int64
	var mu sync.Mutex
	var firstErr error
	lat = make([]time.Duration, total)
	var wg sync.WaitGroup
	start := time.Now()
	for w := 0; w < workers; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				i := int(next.Add(1) - 1)
				if i >= total {
					return
				}
				t := time.Now()
				if err := fn(i); err != nil {
					mu.Lock()
					if firstErr == nil {
						firstErr = err
					}
					mu.Unlock()
					next.Store(int64(total))
					return
				}
				lat[i] = time.Since(t)
			}
		}()
	}
	wg.Wait()
	if firstErr != nil {
		return 0, nil, firstErr
	}
	return float64(total) / time.Since(start).Seconds(), lat, nil
}

func median(xs []float64) float64 {
	if len(xs) == 0 {
		return math.NaN()
	}
	s := append([]float64(nil), xs...)
	sort.Float64s(s)
	if len(s)%2 == 1 {
		return s[len(s)/2]
	}
	return (s[len(s)/2-1] + s[len(s)/2]) / 2
}

// percentile by nearest rank, of latencies in milliseconds.
func percentile(ms []float64, p float64) float64 {
	if len(ms) == 0 {
		return math.NaN()
	}
	s := append([]float64(nil), ms...)
	sort.Float64s(s)
	rank := int(math.Ceil(p/100*float64(len(s)))) - 1
	if rank < 0 {
		rank = 0
	}
	return s[rank]
}

func millis(ds []time.Duration) []float64 {
	out := make([]float64, len(ds))
	for i, d := range ds {
		out[i] = float64(d) / float64(time.Millisecond)
	}
	return out
}
