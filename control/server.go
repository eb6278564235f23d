// Package control serves BrokerControl (control.proto), the administrative gRPC API of a
// broker: drain, undrain and status. It is served on the broker's metrics port, next to
// /metrics and /readyz, by the same HTTP server (HTTP/2 without TLS for gRPC, HTTP/1.1
// for the rest), so a deployment opens one administrative port (docs/cluster.md).
package control

import (
	"context"
	"errors"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	"github.com/kafscale/kafscale/broker"
	"github.com/kafscale/kafscale/control/controlpb"
)

// Backend is the broker the service acts on. A broker process replaces its broker
// incarnation when its etcd session is lost; Current returns nil between incarnations.
type Backend interface {
	Current() *broker.Broker
	// ID is the broker id this process serves as.
	ID() int32
	// Ready is what /readyz answers.
	Ready(ctx context.Context) (bool, string)
}

// NewServer returns a gRPC server with BrokerControl registered on it.
func NewServer(be Backend) *grpc.Server {
	srv := grpc.NewServer()
	controlpb.RegisterBrokerControlServer(srv, &service{be: be})
	return srv
}

type service struct {
	controlpb.UnimplementedBrokerControlServer
	be Backend
}

func (s *service) broker() (*broker.Broker, error) {
	b := s.be.Current()
	if b == nil {
		return nil, status.Error(codes.Unavailable, "the broker is starting or registering a new incarnation")
	}
	return b, nil
}

func (s *service) Drain(ctx context.Context, req *controlpb.DrainRequest) (*controlpb.DrainResponse, error) {
	b, err := s.broker()
	if err != nil {
		return nil, err
	}
	res, err := b.DrainBroker(ctx, req.BrokerId)
	if err != nil {
		return nil, statusOf(err)
	}
	return &controlpb.DrainResponse{
		BrokerId:              req.BrokerId,
		PartitionsMoved:       int32(res.Partitions),
		CoordinatorSlotsMoved: int32(res.Slots),
		TookMs:                res.Took.Milliseconds(),
	}, nil
}

func (s *service) Undrain(ctx context.Context, req *controlpb.UndrainRequest) (*controlpb.UndrainResponse, error) {
	b, err := s.broker()
	if err != nil {
		return nil, err
	}
	if err := b.UndrainBroker(ctx, req.BrokerId); err != nil {
		return nil, statusOf(err)
	}
	return &controlpb.UndrainResponse{}, nil
}

func (s *service) Status(ctx context.Context, _ *controlpb.StatusRequest) (*controlpb.StatusResponse, error) {
	rctx, cancel := context.WithTimeout(ctx, 3*time.Second)
	defer cancel()
	ready, why := s.be.Ready(rctx)
	b := s.be.Current()
	if b == nil {
		return &controlpb.StatusResponse{BrokerId: s.be.ID(), NotReadyReason: why, ControllerId: -1}, nil
	}
	st := b.Status()
	return &controlpb.StatusResponse{
		BrokerId:         st.BrokerID,
		ClusterId:        st.ClusterID,
		Ready:            ready,
		NotReadyReason:   why,
		Draining:         st.Draining,
		PartitionsLed:    int32(st.PartitionsLed),
		CoordinatorSlots: int32(st.CoordinatorSlots),
		PendingBytes:     st.PendingBytes,
		ControllerId:     st.Controller,
		LiveBrokers:      st.LiveBrokers,
	}, nil
}

// statusOf maps a broker error to its gRPC status: the one place BrokerControl's codes
// are decided.
func statusOf(err error) error {
	switch {
	case errors.Is(err, broker.ErrNowhereToDrain):
		return status.Error(codes.FailedPrecondition, err.Error())
	case errors.Is(err, broker.ErrUnknownBroker):
		return status.Error(codes.NotFound, err.Error())
	case errors.Is(err, context.DeadlineExceeded):
		return status.Error(codes.DeadlineExceeded, err.Error())
	case errors.Is(err, context.Canceled):
		return status.Error(codes.Canceled, err.Error())
	default:
		return status.Error(codes.Unavailable, err.Error())
	}
}
