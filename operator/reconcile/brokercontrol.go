package reconcile

import (
	"context"
	"fmt"

	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials/insecure"

	"github.com/kafscale/kafscale/control/controlpb"
)

// brokerControl calls BrokerControl on one broker; a connection per call keeps no state
// between reconciles (drains are rare).
func brokerControl[T any](ctx context.Context, addr string, call func(controlpb.BrokerControlClient) (T, error)) (T, error) {
	var zero T
	conn, err := grpc.NewClient(addr, grpc.WithTransportCredentials(insecure.NewCredentials()))
	if err != nil {
		return zero, fmt.Errorf("cannot connect to BrokerControl at %s: %w", addr, err)
	}
	defer conn.Close()
	return call(controlpb.NewBrokerControlClient(conn))
}

func drainBroker(ctx context.Context, addr string, id int32) (*controlpb.DrainResponse, error) {
	return brokerControl(ctx, addr, func(c controlpb.BrokerControlClient) (*controlpb.DrainResponse, error) {
		return c.Drain(ctx, &controlpb.DrainRequest{BrokerId: id})
	})
}

func undrainBroker(ctx context.Context, addr string, id int32) error {
	_, err := brokerControl(ctx, addr, func(c controlpb.BrokerControlClient) (*controlpb.UndrainResponse, error) {
		return c.Undrain(ctx, &controlpb.UndrainRequest{BrokerId: id})
	})
	return err
}

func brokerStatus(ctx context.Context, addr string) (*controlpb.StatusResponse, error) {
	return brokerControl(ctx, addr, func(c controlpb.BrokerControlClient) (*controlpb.StatusResponse, error) {
		return c.Status(ctx, &controlpb.StatusRequest{})
	})
}
